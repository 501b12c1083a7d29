"""The training loop and what it is made of: the Trainer, device and precision choice, speed
profiles, learning-rate schedules, the generator EMA, divergence detection and the progress bar.
It knows nothing of GANs: a recipe's ``training_step`` does the GAN logic.

May import: ``base`` through ``evaluation``.
"""

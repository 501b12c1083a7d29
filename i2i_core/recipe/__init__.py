"""What a recipe is and is built from: the recipe contract (``Recipe``, ``BuildContext``,
``StepContext``, ``Inference``), the options image GANs share (``ImageGANConfig``), the GAN losses,
the image pools, and the built-in losses and optimizers registered for every plugin.

May import: ``base``, ``registry``, ``config``.
"""

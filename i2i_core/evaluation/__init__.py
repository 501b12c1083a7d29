"""Scoring a generator: the metrics (PSNR, SSIM, LPIPS, FID, KID with locally named weights) and
the held-out evaluation loop shared by training and ``i2i eval``.

May import: ``base`` through ``io``.
"""

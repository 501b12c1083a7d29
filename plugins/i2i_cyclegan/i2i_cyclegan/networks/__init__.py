"""Networks of the CycleGAN plugin (the book's; the junyanz ones live in the pix2pix plugin)."""

from __future__ import annotations

from .book import BookDiscriminator, BookGenerator, BookResidualBlock, book_discriminator, book_generator

__all__ = ["BookDiscriminator", "BookGenerator", "BookResidualBlock", "book_discriminator", "book_generator"]

"""Products, variants, images, categories and inventory."""

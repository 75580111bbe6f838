"""Reading and writing image files (the only package that touches Pillow)."""

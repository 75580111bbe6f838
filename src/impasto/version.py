"""impasto's version, in a bottom module so that any layer can name it without importing the
package face (``impasto/__init__.py`` re-exports it)."""

__version__ = "0.1.0"

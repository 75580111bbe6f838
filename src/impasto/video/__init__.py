"""Video: read and write clips, optical flow and consistency masks (Ruder, Dosovitskiy & Brox
2016), synthetic clips with known motion, the style-network route with flicker reduction, and
the temporal error measure. Above ``api`` and ``network`` in the layers; no shell imports."""

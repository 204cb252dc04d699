"""depthnerf: NeRF with four depth-supervision strategies, compared honestly.

The modules of this package are generated from the numbered notebooks (``make export``); edit the
notebooks, not the modules.
"""
__version__ = "0.1.0"

# Generated from Experiments/custom_scenes.ipynb by tools/export_notebooks.py: do not edit; edit the notebook and run `make export`.


import sys

from depthnerf.cli import main


# %% Experiments/custom_scenes.ipynb · cell c40
if __name__ == "__main__" and "ipykernel" not in sys.modules:  # a notebook kernel is __main__ too
    sys.exit(main())

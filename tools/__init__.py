"""Project tooling: the notebook exporter and the headless pipeline runner."""

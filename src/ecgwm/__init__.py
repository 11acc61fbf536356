"""ecgwm: world-model augmentation for imbalanced multi-label ECG classification."""

__version__ = "0.1.0"

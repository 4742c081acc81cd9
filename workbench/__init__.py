"""workbench: a plugin-based data-science workbench over a shared dataset/model registry.

Plugins import from `workbench.sdk`; the rest of the package is the host (see the README's architecture).
"""

__version__ = "0.3.0"

"""The robot description: typed config (configs/robots/<name>.yaml), URDF composition, declared features.

Sim, safety and hardware all import it from here; it depends on nothing but the runtime's config loader."""

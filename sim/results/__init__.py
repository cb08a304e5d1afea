"""Results on disk: tables, atomic writes, manifests, loading back."""

"""Cluster configs (the files in cluster/): checks of `ray up` and KubeRay files before launch."""

"""What a person looks at to trust a clustering: Grad-CAM maps of what the network looked at, and the
GrabCut foreground masks of Gunari et al.'s "manual attention" (papers/003)."""

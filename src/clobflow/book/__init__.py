"""Order books: one L2 book per outcome token, a binary-market view, and trust tracking."""

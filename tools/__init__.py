"""Entry points: the `mae` command and thin scripts."""

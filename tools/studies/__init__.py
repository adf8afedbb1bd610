"""Research runs that write docs/RESULTS.md: the studies, their probe pilots and diagnostics
(README.md lists them). They import the product (tools, transfer, pretrain); nothing outside this
folder imports them (tests/test_import_layout.py checks)."""

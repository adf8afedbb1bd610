"""The one writer of docs/RESULTS.md's sections: each study's section is replaced in place by its
title (a top-level heading), and the others are left as they are."""
import os

# RESULTS.md's last section (tools/studies/results.py): a new section goes in before it
APPENDIX_TITLE = "# Appendix: superseded classification runs and probe pilots"


def put_section(path: str, text: str, first: bool = False) -> str:
    """Put `text` (starting with its own '# Title' line) into the markdown file at `path`: replacing
    the section with that title up to the next top-level heading; a new one goes first (`first`),
    else before the appendix, else at the end. Other sections untouched."""
    title = text.splitlines()[0].strip()
    lines = open(path).read().splitlines(keepends=True) if os.path.isfile(path) else []
    start = next((i for i, ln in enumerate(lines) if ln.strip() == title), None)
    if start is None:
        appendix = (i for i, ln in enumerate(lines) if ln.strip() == APPENDIX_TITLE)
        start = end = 0 if first else next(appendix, None)
    else:
        ends = (i for i in range(start + 1, len(lines)) if lines[i].startswith("# "))
        end = next(ends, len(lines))
    if start is None:  # at the end, after a blank line
        body = "".join(lines).rstrip("\n")
        new = (body + "\n\n" if body else "") + text
    else:
        rest = "".join(lines[end:])
        new = "".join(lines[:start]) + text + ("\n" + rest if rest else "")
    with open(path, "w") as f:
        f.write(new)
    return path

"""Every report of a gradebook as files.

    write_all(book, out_dir)           all the reports, as files (layout below)

Layout written by write_all:
    out_dir/feedback/<student>.md, out_dir/feedback/<student>.html
    out_dir/gradescope/<student>/results.json
    out_dir/summary.html, out_dir/summary.png
where <student> is safe_files.file_stem(student): the name itself when it is a plain file name.
"""

import json
from pathlib import Path

from .feedback import feedback_document, to_html, to_markdown
from .gradescope_results import gradescope_results
from .safe_files import file_stem, write_atomic
from .summary import class_summary


class ReportError(Exception):
    """Some students' reports could not be made; the others were written."""


def write_all(book, out_dir):
    """Every report of the gradebook under out_dir (layout in this module's docstring).

    A student whose reports cannot be made does not stop the others: the rest are written,
    the summary too, and then ReportError names what failed.
    """
    out_dir = Path(out_dir)
    failed = []
    for name in sorted(book['students']):
        stem = file_stem(name)
        try:
            title, doc = feedback_document(book, name)
            markdown, page = to_markdown(doc), to_html(title, doc)
            results = json.dumps(gradescope_results(book, name), indent=2, ensure_ascii=False) + '\n'
        except Exception as e:  # noqa: BLE001 - one broken record must not stop the class
            failed.append(f"{name}: {type(e).__name__}: {e}")
            continue
        write_atomic(out_dir / 'feedback' / f"{stem}.md", markdown)
        write_atomic(out_dir / 'feedback' / f"{stem}.html", page)
        write_atomic(out_dir / 'gradescope' / stem / 'results.json', results)
    class_summary(book, out_dir)
    if failed:
        raise ReportError("reports could not be made for: " + '; '.join(failed))

"""Writing a report's file: safely named after the student, and atomically.

    file_stem(student)                 the student's name as a file name
    write_atomic(path, data)           write a file so that it is either old or new, never half
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path


_PLAIN_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}')


def file_stem(student):
    """The student's name as a file name: itself when plain, else a cleaned name with a short
    hash, so that no two students share a file and no name can leave its folder."""
    name = str(student)
    if _PLAIN_NAME.fullmatch(name) and '..' not in name:
        return name
    cleaned = re.sub(r'[^A-Za-z0-9._@+-]+', '_', name).strip('._')[:60] or 'student'
    digest = hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]
    return f"{cleaned}-{digest}"


def write_atomic(path, data):
    """Write data (str as UTF-8, or bytes) to path through a temporary file in the same folder,
    then rename it into place: a reader sees the old file or the new one, never a part."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode('utf-8', 'replace')
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix='.tmp', dir=path.parent)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)

"""A photo's path: the one definition every query uses.

A photo (content) can have several files; the path shown for it is its **present** file with the
smallest path. Where a photo whose files are all missing must still be named (a face's details, the
photo page), its smallest missing path stands in (:func:`known_path_sql`).
"""

from __future__ import annotations


def present_path_sql(photo: str) -> str:
    """SQL for the present path of photo ``photo`` (a column or ``?``), NULL when every file is missing."""
    return f"(SELECT path FROM files WHERE files.photo_id = {photo} AND files.status = 'present' ORDER BY path LIMIT 1)"


def known_path_sql(photo: str) -> str:
    """SQL for the path of photo ``photo``: the present one, else the smallest missing one."""
    return (
        f"(SELECT path FROM files WHERE files.photo_id = {photo} ORDER BY files.status = 'present' DESC, path LIMIT 1)"
    )

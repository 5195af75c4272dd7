"""The course notebooks, one per lesson. Installed as ``ptm_course.tutorials`` (package data of
the course plugin) so that ``ptm lesson notebook ID`` finds them in a wheel install too."""

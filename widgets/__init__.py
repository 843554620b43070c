"""Widgets adapter: the pages and JSON API that learners use inside the LMS iframe."""

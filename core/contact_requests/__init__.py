"""Employers' contact requests to candidates they were shown, and the seekers' answers (double opt-in)."""

"""Parla curriculum service: Languages, courses and their content hierarchy, exercises, audio and grading."""

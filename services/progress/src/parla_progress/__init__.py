"""Parla progress service: Enrolments, lesson sessions, hearts, XP, daily goals, streaks and achievements."""

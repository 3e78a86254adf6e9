"""The progress service's pure domain rules: no I/O, no database, no clock.

Every rule that depends on time takes ``now`` (an aware datetime) from its caller, so the same
inputs always give the same answer and tests inject the clock.

- ``hearts``: hearts that regenerate lazily and exactly from stored state (FR-11, AC-11).
- ``daily_xp``: the learner's local day and the daily XP goal (FR-12).
- ``streaks``: streaks counted in the learner's own timezone, robust to timezone changes (FR-13, AC-12).
- ``achievements``: which achievements a learner's statistics earn, evaluated to a fixed point.
- ``scoring``: a lesson session's score and whether it was perfect.
- ``unlocking``: lesson statuses from prerequisites, and the lessons a completion unlocks (FR-10).
"""

"""Grading of learner answers against an exercise's accepted answers.

Pure domain logic (no I/O), so the check endpoint and any offline tooling grade identically.
"""

import unicodedata
from collections.abc import Collection, Sequence
from typing import Literal, NamedTuple

import msgspec

__all__ = ["FeedbackKind", "GradeResult", "grade_choice", "grade_text", "normalize", "strip_accents"]

FeedbackKind = Literal["exact", "accent", "typo", "wrong"]


class GradeResult(msgspec.Struct, frozen=True):
    """The verdict on one answer.

    ``correct_answer`` is the canonical answer, except for a near miss ("accent" or "typo"), where it
    is the accepted answer the learner was closest to, spelled correctly.
    """

    correct: bool
    feedback: FeedbackKind
    correct_answer: str
    message: str | None


# Keyboards and autocorrect type many different apostrophes (straight, curly, modifier letters);
# dropping them all makes "I'm" and "Im" the same answer. They are dropped before NFKC, which
# would turn the acute accent into a space.
_APOSTROPHES = frozenset(
    unicodedata.lookup(name)
    for name in (
        "APOSTROPHE",
        "FULLWIDTH APOSTROPHE",
        "RIGHT SINGLE QUOTATION MARK",
        "LEFT SINGLE QUOTATION MARK",
        "SINGLE HIGH-REVERSED-9 QUOTATION MARK",
        "MODIFIER LETTER APOSTROPHE",
        "MODIFIER LETTER TURNED COMMA",
        "GRAVE ACCENT",
        "FULLWIDTH GRAVE ACCENT",
        "ACUTE ACCENT",
        "PRIME",
    )
)

# Below this many letters any difference is a different word, so no typo is forgiven.
_MIN_LETTERS_FOR_TYPO = 4
# Up to this many letters one typo is forgiven; longer text gets two.
_MAX_LETTERS_FOR_ONE_TYPO = 15

# Spanish and English inflectional endings (gender, number, person). When two words differ only by
# these, the learner chose the wrong form ("buenas" for "buenos", "hablo"/"habla", "dog"/"dogs",
# "woman"/"women"): a grammar mistake, not a slip of the finger.
_INFLECTION_ENDINGS = frozenset({"", "a", "e", "o", "s", "as", "es", "os", "n", "an", "en"})


def normalize(text: str) -> str:
    """Fold case, drop apostrophes, turn punctuation into spaces and collapse whitespace; keep accents."""
    without_apostrophes = "".join(char for char in text if char not in _APOSTROPHES)
    # NFKC on both sides of casefold, as in Unicode's canonical caseless matching; it also folds
    # full-width letters and composes "e" + combining acute into "é".
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", without_apostrophes).casefold())
    cleaned = "".join(_clean_char(char) for char in folded)
    # Deleting characters can leave a letter next to a combining mark it now composes with.
    return unicodedata.normalize("NFC", " ".join(cleaned.split()))


def _clean_char(char: str) -> str:
    category = unicodedata.category(char)
    # Invisible format characters (zero-width spaces, soft hyphens) are deleted; NFKC can also
    # produce an apostrophe, e.g. from a full-width one.
    if category == "Cf" or char in _APOSTROPHES:
        return ""
    # Punctuation becomes a space so "hola,ana" still has two words.
    if category.startswith("P"):
        return " "
    return char


def strip_accents(text: str) -> str:
    """Remove diacritics by NFD decomposition: á→a, ñ→n, ü→u."""
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if unicodedata.category(char) != "Mn"))


class _AcceptedAnswer(NamedTuple):
    text: str
    normalized: str
    accentless_words: tuple[str, ...]


def _accepted_answer(text: str) -> _AcceptedAnswer:
    normalized = normalize(text)
    return _AcceptedAnswer(text, normalized, _accentless_words(normalized))


def grade_text(answer: str, correct_answer: str, alternatives: Sequence[str] = ()) -> GradeResult:
    """Grade a typed answer: exact (after normalisation), accent-only mistake, small typo, or wrong."""
    normalized_answer = normalize(answer)
    if not normalized_answer:
        return _wrong(correct_answer)
    accepted_answers = [_accepted_answer(text) for text in (correct_answer, *alternatives)]
    if any(accepted.normalized == normalized_answer for accepted in accepted_answers):
        return GradeResult(correct=True, feedback="exact", correct_answer=correct_answer, message=None)

    answer_words = _accentless_words(normalized_answer)
    for accepted in accepted_answers:
        if accepted.accentless_words == answer_words:
            return GradeResult(
                correct=True,
                feedback="accent",
                correct_answer=accepted.text,
                message=_feedback_sentence("Pay attention to the accents", accepted.text),
            )

    typo_matches = [
        (typos, accepted)
        for accepted in accepted_answers
        if (typos := _count_typos(answer_words, accepted.accentless_words)) is not None
    ]
    if typo_matches:
        # min() keeps the first of equally close answers, so the canonical answer wins ties.
        closest = min(typo_matches, key=lambda match: match[0])[1]
        return GradeResult(
            correct=True,
            feedback="typo",
            correct_answer=closest.text,
            message=_feedback_sentence("You have a typo", closest.text),
        )
    return _wrong(correct_answer)


def grade_choice(chosen_option_id: str, correct_option_ids: Collection[str], correct_option_text: str) -> GradeResult:
    """Grade a multiple-choice answer; option ids are opaque and compared exactly."""
    if chosen_option_id in correct_option_ids:
        return GradeResult(correct=True, feedback="exact", correct_answer=correct_option_text, message=None)
    return _wrong(correct_option_text)


def _wrong(correct_answer: str) -> GradeResult:
    return GradeResult(
        correct=False,
        feedback="wrong",
        correct_answer=correct_answer,
        message=_feedback_sentence("Correct solution", correct_answer),
    )


def _feedback_sentence(lead: str, answer: str) -> str:
    # 'Correct solution: "¿Cómo estás?"' needs no second full stop after the quote.
    full_stop = "" if answer.rstrip().endswith((".", "!", "?", "…")) else "."
    return f'{lead}: "{answer}"{full_stop}'


def _accentless_words(normalized: str) -> tuple[str, ...]:
    # Split again after stripping: a word made only of combining marks disappears entirely.
    return tuple(strip_accents(normalized).split())


def _allowed_typos(letter_count: int) -> int:
    if letter_count < _MIN_LETTERS_FOR_TYPO:
        return 0
    if letter_count <= _MAX_LETTERS_FOR_ONE_TYPO:
        return 1
    return 2


def _count_typos(answer_words: tuple[str, ...], accepted_words: tuple[str, ...]) -> int | None:
    """Typos between two accent-stripped answers, or None when the difference is not a typo."""
    if "".join(answer_words) == "".join(accepted_words):
        # Only the spaces differ ("buenosdias", "gra cias"): each added or missing space is one typo.
        typos = _osa_distance(" ".join(answer_words), " ".join(accepted_words))
    elif len(answer_words) != len(accepted_words):
        # A whole word is missing or extra ("Yo soy" for "Yo soy Ana").
        return None
    else:
        typos = 0
        for answer_word, accepted_word in zip(answer_words, accepted_words, strict=True):
            word_typos = _count_word_typos(answer_word, accepted_word)
            if word_typos is None:
                return None
            typos += word_typos
    letter_count = sum(len(word) for word in accepted_words)
    return typos if typos <= _allowed_typos(letter_count) else None


def _count_word_typos(answer_word: str, accepted_word: str) -> int | None:
    if answer_word == accepted_word:
        return 0
    allowed = _allowed_typos(len(accepted_word))
    # A changed short word is another word ("el"/"la", "un"/"una"), a changed ending another form.
    if allowed == 0 or _changes_inflection(answer_word, accepted_word):
        return None
    # The length gap is a lower bound of the distance; checking it first keeps junk input cheap.
    if abs(len(answer_word) - len(accepted_word)) > allowed:
        return None
    typos = _osa_distance(answer_word, accepted_word)
    return typos if typos <= allowed else None


def _changes_inflection(answer_word: str, accepted_word: str) -> bool:
    shared_length = next(
        (index for index, (left, right) in enumerate(zip(answer_word, accepted_word, strict=False)) if left != right),
        min(len(answer_word), len(accepted_word)),
    )
    answer_ending = answer_word[shared_length:]
    accepted_ending = accepted_word[shared_length:]
    if answer_ending not in _INFLECTION_ENDINGS or accepted_ending not in _INFLECTION_ENDINGS:
        return False
    # "glas" for "glass" or "coffe" for "coffee" only misses a doubled letter: a slip, not grammar.
    differing_letters = answer_ending + accepted_ending
    drops_doubled_letter = (
        len(differing_letters) == 1 and shared_length > 0 and answer_word[shared_length - 1] == differing_letters
    )
    return not drops_doubled_letter


def _osa_distance(source: str, target: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    row_before_previous: list[int] = []
    previous_row = list(range(len(target) + 1))
    for source_index, source_char in enumerate(source, start=1):
        current_row = [source_index] + [0] * len(target)
        for target_index, target_char in enumerate(target, start=1):
            current_row[target_index] = min(
                previous_row[target_index] + 1,
                current_row[target_index - 1] + 1,
                previous_row[target_index - 1] + int(source_char != target_char),
            )
            if (
                source_index > 1
                and target_index > 1
                and source_char == target[target_index - 2]
                and source[source_index - 2] == target_char
            ):
                current_row[target_index] = min(current_row[target_index], row_before_previous[target_index - 2] + 1)
        row_before_previous, previous_row = previous_row, current_row
    return previous_row[-1]

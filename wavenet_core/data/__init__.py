"""Training data: the built-in synthetic corpus and folders of the user's own audio."""
from .corpus import INSTRUMENTS, Example, NoteCorpus
from .folder import FolderReport, load_folder

__all__ = ["INSTRUMENTS", "Example", "NoteCorpus", "FolderReport", "load_folder"]

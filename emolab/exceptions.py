"""One error hierarchy. Messages are written for the musicologist, not the programmer."""


class EmolabError(Exception):
    """Base class of every error EmoLab raises on purpose."""


class ParameterError(EmolabError, ValueError):
    """A value given to EmoLab is out of range, of the wrong shape or missing."""


class AudioError(EmolabError):
    """An audio file could not be used."""


class EmptyAudioError(AudioError):
    """The file holds no bytes or no samples."""


class CorruptAudioError(AudioError):
    """The file is damaged, truncated or not audio at all."""


class AudioTooLongError(AudioError):
    """The recording is longer than the configured limit."""


class FeatureError(EmolabError):
    """Features could not be computed from the audio."""


class ModelError(EmolabError):
    """A model is missing, not trained yet, or does not fit the data given."""


class SongIndexError(EmolabError):
    """The song index refused an operation or is unusable."""


class QueryRefusedError(SongIndexError):
    """A query in the read-only console was refused (writes, files, extensions...)."""


class ConflictError(SongIndexError):
    """Someone else saved this annotation since you opened it."""


class DatasetError(EmolabError):
    """A dataset folder or annotation file does not have the expected layout."""


class AnalysisTimeoutError(AudioError):
    """Decoding or analysing a recording took longer than the time limit and was stopped."""


class IndexInUseError(SongIndexError):
    """Another program (the app, another emolab command) holds the song index for writing."""

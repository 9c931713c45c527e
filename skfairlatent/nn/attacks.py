"""Adversarial attacks: ALFA's latent fairness attack and AEDA's I-FGSM."""

import torch


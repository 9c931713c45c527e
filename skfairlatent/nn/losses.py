"""Losses shared by the methods: fairness constraints, Sinkhorn distance, ...

Each section names the paper and equation it implements.
"""

import torch


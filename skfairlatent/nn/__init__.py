"""Plain torch building blocks shared by the methods (no scikit-learn in here).

modules     MLPs, linear heads and other network bodies
losses      fairness constraints, Sinkhorn distance, distance correlation, ...
attacks     ALFA's latent fairness attack, AEDA's I-FGSM
flows       normalizing flows (vector Glow, image Glow)
"""

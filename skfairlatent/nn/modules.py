"""Network bodies shared by the methods."""

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Multi-layer perceptron ``in -> hidden layers -> out`` with ReLU activations.

    Parameters
    ----------
    in_features : int
        Width of the input.
    hidden_layer_sizes : sequence of int
        Width of each hidden layer; ``()`` gives a single linear map (or the
        identity when ``out_features`` is None).
    out_features : int or None, default=None
        Width of a final linear layer without activation; ``None`` ends on the
        last hidden activation, which makes the MLP an encoder.
    activation : type of torch.nn.Module, default=torch.nn.ReLU
    dropout : float, default=0.0
        Dropout after each hidden activation.

    Attributes
    ----------
    out_dim : int
        Width of the output.
    """

    def __init__(self, in_features, hidden_layer_sizes=(128, 128), out_features=None,
                 activation=nn.ReLU, dropout=0.0):
        super().__init__()
        layers, width = [], in_features
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), activation()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        if out_features is not None:
            layers.append(nn.Linear(width, out_features))
            width = out_features
        self.layers = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, X):
        return self.layers(X)


class EncoderHead(nn.Module):
    """An encoder f followed by a linear head g: ``logits = g(f(x))``.

    The split is what latent-space methods need: ``encode`` gives z = f(x),
    ``head`` maps latents to logits and can be swapped or retrained alone.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps (n, n_features) to (n, latent_dim).
    latent_dim : int
    n_outputs : int
        One logit per binary output.
    """

    def __init__(self, encoder, latent_dim, n_outputs=1):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(latent_dim, n_outputs)

    def encode(self, X):
        return self.encoder(X)

    def forward(self, X):
        logits = self.head(self.encoder(X))
        return logits.squeeze(-1) if logits.shape[-1] == 1 else logits

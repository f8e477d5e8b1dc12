"""hpo's seven models (worker/models/*.cc) written in PyTorch, layer for layer.

For the PyTorch baselines of the benchmarks (bench/train_torch_baseline.py,
and the Optuna head-to-head under bench/peer/): the same layers in the same
order, the same shapes, the same initialisation and so the same number of
trainable parameters as hpo's LibTorch models, for the same settings. Every
function takes the settings of hpo's ModelConfig (common/train_config.h) as
keyword arguments with hpo's defaults; a setting left at None takes the
model's own default, as hpo's "model default" (an empty list, kernel_size 0,
padding "").

    import hpo_torch_models as m
    model = m.build_model("cnn", sample_shape=[1, 128, 128], classes=8)
    m.count_parameters(model)   # 735944, as hpo's CountParameters

sample_shape is the manifest's "sample_shape" ([1, H, W] for mel shards,
[D] for vector shards); models take batches [B, *sample_shape] and return
logits [B, classes]. Only torch is needed (PyTorch 1.13 as Debian's
python3-torch; any later version works too).

What each model is (the comments of worker/models/*.cc say more):

    cnn           conv blocks of conv -> activation -> batch norm -> max pool
                  (channels [64, 64, 128, 128], kernel 5, "valid"), flatten,
                  dropout, dense layers, Linear to the classes.
    unet_encoder  double-conv blocks (3 x 3 conv -> batch norm -> activation,
                  twice; channels [16, 32, 64, 128], "same"), max pool and
                  dropout after each; flatten, dense, Linear. Xavier init.
    crnn          conv blocks (channels [32, 64, 64, 128], kernels 7, 5, 3,
                  3, "same"), then a GRU over the frames, its last hidden
                  state to the dense head.
    dcnn          two parallel conv branches (max- and average-pooling),
                  concatenated on the channels, flattened.
    dcrnn         dcnn's branches, then crnn's GRU.
    resnet        residual blocks along the frames (the first conv spans all
                  mel rows), max + mean pooling over the frames, dense
                  [256, 128] with batch norm, ELU.
    mlp           Linear -> batch norm -> activation -> dropout per hidden
                  layer ([512, 256]), Linear to the classes; samples of any
                  shape are flattened.
"""

import torch
from torch import nn

MODELS = ("cnn", "unet_encoder", "crnn", "dcnn", "dcrnn", "resnet", "mlp")


def _activation(name):
    """A new activation module: relu, elu or leaky_relu (torch defaults)."""
    if name == "elu":
        return nn.ELU()
    if name == "leaky_relu":
        return nn.LeakyReLU()
    if name == "relu":
        return nn.ReLU()
    raise ValueError("activation: unknown %r; use relu, elu or leaky_relu" %
                     name)


def _init_weights(module, init):
    """hpo's InitWeights: re-initialise every Conv2d and Linear (xavier:
    Glorot uniform; kaiming: He normal, fan in, ReLU gain) and zero their
    biases. "default" keeps torch's initialisation (as LibTorch's)."""
    if init == "default":
        return
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                if init == "xavier":
                    nn.init.xavier_uniform_(m.weight)
                elif init == "kaiming":
                    nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in",
                                            nonlinearity="relu")
                else:
                    raise ValueError("init: unknown %r" % init)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


class Conv(nn.Module):
    """hpo's Conv: a stride-1 Conv2d; on an axis marked same, Keras "same"
    zero padding (kernel - 1 in all, the smaller half first; an asymmetric
    pad is a constant_pad_nd before the conv), on a valid axis none."""

    def __init__(self, in_channels, out_channels, kernel_height,
                 kernel_width, same_height, same_width):
        super().__init__()
        top = (kernel_height - 1) // 2 if same_height else 0
        bottom = kernel_height - 1 - top if same_height else 0
        left = (kernel_width - 1) // 2 if same_width else 0
        right = kernel_width - 1 - left if same_width else 0
        self.pad = None
        padding = 0
        if top == bottom and left == right:
            padding = (top, left)
        else:
            self.pad = (left, right, top, bottom)
        self.conv = nn.Conv2d(in_channels, out_channels,
                              (kernel_height, kernel_width), padding=padding)

    def forward(self, x):
        if self.pad is not None:
            x = torch.constant_pad_nd(x, self.pad, 0.0)
        return self.conv(x)


class ConvStack(nn.Module):
    """hpo's ConvStack: per block, convs_per_block x (conv, activation and
    batch norm in the configured order), then pooling and dropout.
    `shape` is one sample's (channels, height, width); output_shape is the
    shape that comes out."""

    def __init__(self, shape, channels, kernel_sizes, same_padding,
                 convs_per_block=1, pool=2, pool_kind="max", batch_norm=True,
                 norm_before_activation=False, activation="relu",
                 block_dropout=0.0):
        super().__init__()
        c, h, w = shape
        layers = []
        for block, out in enumerate(channels):
            k = kernel_sizes[block]
            for _ in range(convs_per_block):
                if not same_padding and (h < k or w < k):
                    raise ValueError("kernel_size: block %d gets a %d x %d map"
                                     % (block + 1, h, w))
                layers.append(Conv(c, out, k, k, same_padding, same_padding))
                c = out
                if not same_padding:
                    h -= k - 1
                    w -= k - 1
                if batch_norm and norm_before_activation:
                    layers.append(nn.BatchNorm2d(c))
                layers.append(_activation(activation))
                if batch_norm and not norm_before_activation:
                    layers.append(nn.BatchNorm2d(c))
            if pool > 1:
                if h < pool or w < pool:
                    raise ValueError("channels: %d blocks with pool %d shrink "
                                     "the input below 1 x 1"
                                     % (len(channels), pool))
                layers.append(nn.MaxPool2d(pool) if pool_kind == "max" else
                              nn.AvgPool2d(pool))
                h //= pool
                w //= pool
            if block_dropout > 0.0:
                layers.append(nn.Dropout(block_dropout))
        self.layers = nn.Sequential(*layers)
        self.output_shape = (c, h, w)

    def forward(self, x):
        return self.layers(x)


def dense_head(in_features, hidden, classes, activation="relu", dropout=0.0,
               batch_norm=False, input_dropout=False):
    """hpo's DenseHead: [dropout], then per hidden width Linear, [batch
    norm], activation, [dropout]; then a Linear to the classes."""
    layers = []
    if input_dropout and dropout > 0.0:
        layers.append(nn.Dropout(dropout))
    n = in_features
    for width in hidden:
        layers.append(nn.Linear(n, width))
        if batch_norm:
            layers.append(nn.BatchNorm1d(width))
        layers.append(_activation(activation))
        if dropout > 0.0:
            layers.append(nn.Dropout(dropout))
        n = width
    layers.append(nn.Linear(n, classes))
    return nn.Sequential(*layers)


def _mel_shape(name, sample_shape):
    if len(sample_shape) != 3:
        raise ValueError("model %s needs mel shards with samples [1, H, W], "
                         "not %s; use mlp for feature vectors"
                         % (name, list(sample_shape)))
    return tuple(int(s) for s in sample_shape)


class Cnn(nn.Module):
    """cnn (seed 001), as worker/models/cnn.cc."""

    def __init__(self, sample_shape, classes, channels=None, kernel_size=None,
                 padding=None, pool=2, batch_norm=True, dropout=0.0,
                 dense=None, activation=None, init="default", **unused):
        super().__init__()
        act = activation or "relu"
        channels = channels or [64, 64, 128, 128]
        k = kernel_size or 5
        self.conv = ConvStack(_mel_shape("cnn", sample_shape), channels,
                              [k] * len(channels), (padding or "valid") ==
                              "same", pool=pool, batch_norm=batch_norm,
                              activation=act)
        c, h, w = self.conv.output_shape
        self.head = dense_head(c * h * w, dense or [], classes, act, dropout,
                               batch_norm, input_dropout=True)
        _init_weights(self, init)

    def forward(self, x):
        return self.head(self.conv(x).flatten(1))


class UnetEncoder(nn.Module):
    """unet_encoder (seed 000), as worker/models/unet_encoder.cc."""

    def __init__(self, sample_shape, classes, channels=None, kernel_size=None,
                 padding=None, pool=2, batch_norm=True, dropout=0.0,
                 dense=None, activation=None, init="default", **unused):
        super().__init__()
        act = activation or "relu"
        channels = channels or [16, 32, 64, 128]
        k = kernel_size or 3
        self.encoder = ConvStack(
            _mel_shape("unet_encoder", sample_shape), channels,
            [k] * len(channels), (padding or "same") == "same",
            convs_per_block=2, pool=pool, batch_norm=batch_norm,
            norm_before_activation=True, activation=act,
            block_dropout=dropout)
        c, h, w = self.encoder.output_shape
        self.head = dense_head(c * h * w, dense or [], classes, act, dropout,
                               batch_norm, input_dropout=False)
        _init_weights(self, "xavier" if init == "default" else init)

    def forward(self, x):
        return self.head(self.encoder(x).flatten(1))


class Hybrid(nn.Module):
    """crnn, dcnn and dcrnn (seed 003), as worker/models/crnn.cc."""

    def __init__(self, name, sample_shape, classes, channels=None,
                 kernel_size=None, padding=None, pool=2, batch_norm=True,
                 dropout=0.0, dense=None, gru_hidden=64, gru_layers=1,
                 bidirectional=False, activation=None, init="default",
                 **unused):
        super().__init__()
        self.duplicated = name in ("dcnn", "dcrnn")
        self.recurrent = name in ("crnn", "dcrnn")
        act = activation or "relu"
        channels = channels or [32, 64, 64, 128]
        kernels = [kernel_size or max(3, 7 - 2 * i)
                   for i in range(len(channels))]
        same = (padding or "same") == "same"
        shape = _mel_shape(name, sample_shape)
        branch = ConvStack(shape, channels, kernels, same, pool=pool,
                           pool_kind="max", batch_norm=batch_norm,
                           activation=act)
        c, h, w = branch.output_shape
        if self.duplicated:
            self.max_branch = branch
            self.average_branch = ConvStack(shape, channels, kernels, same,
                                            pool=pool, pool_kind="average",
                                            batch_norm=batch_norm,
                                            activation=act)
            c *= 2
        else:
            self.conv = branch
        in_features = c * h * w
        self.directions = 2 if bidirectional else 1
        if self.recurrent:
            self.gru = nn.GRU(c * h, gru_hidden, num_layers=gru_layers,
                              batch_first=True, bidirectional=bidirectional,
                              dropout=dropout if gru_layers > 1 else 0.0)
            in_features = gru_hidden * self.directions
        self.head = dense_head(in_features, dense or [], classes, act, dropout,
                               batch_norm, input_dropout=True)
        _init_weights(self, init)

    def forward(self, x):
        if self.duplicated:
            maps = torch.cat([self.max_branch(x), self.average_branch(x)], 1)
        else:
            maps = self.conv(x)
        if not self.recurrent:
            return self.head(maps.flatten(1))
        batch, frames = maps.size(0), maps.size(3)
        # [B, C, F, T] -> [B, T, C * F]: one feature vector per frame.
        sequence = maps.permute(0, 3, 1, 2).reshape(batch, frames, -1)
        _, last = self.gru(sequence)
        last = last.narrow(0, last.size(0) - self.directions, self.directions)
        return self.head(last.permute(1, 0, 2).reshape(batch, -1))


class ResidualBlock(nn.Module):
    """resnet's block: a = act(bn(conv1(x))); b = act(bn(conv2(a)));
    y = act(bn(conv3(b)) + a)."""

    def __init__(self, in_maps, out_maps, kernel_height, kernel_width,
                 same_width, batch_norm, activation):
        super().__init__()

        def conv(i, kh, same):
            layers = [Conv(i, out_maps, kh, kernel_width, False, same)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_maps))
            return layers

        self.first = nn.Sequential(
            *conv(in_maps, kernel_height, same_width), _activation(activation))
        self.rest = nn.Sequential(*conv(out_maps, 1, True),
                                  _activation(activation),
                                  *conv(out_maps, 1, True))
        self.activation = nn.Sequential(_activation(activation))

    def forward(self, x):
        a = self.first(x)
        return self.activation(self.rest(a) + a)


class Resnet(nn.Module):
    """resnet (seed 004), as worker/models/resnet.cc."""

    def __init__(self, sample_shape, classes, channels=None, kernel_size=None,
                 padding=None, pool=2, batch_norm=True, dropout=0.0,
                 dense=None, activation=None, init="default", **unused):
        super().__init__()
        act = activation or "elu"
        channels = channels or [256]
        k = kernel_size or 3
        same = (padding or "same") == "same"
        maps, height, frames = _mel_shape("resnet", sample_shape)
        body = []
        for block, out in enumerate(channels):
            if not same and frames < k:
                raise ValueError("kernel_size: residual block %d gets %d "
                                 "frames" % (block + 1, frames))
            if block > 0 and pool > 1:
                if frames < pool:
                    raise ValueError("channels: too many residual blocks")
                body.append(nn.MaxPool2d((1, pool)))
                frames //= pool
            body.append(ResidualBlock(maps, out, height if block == 0 else 1,
                                      k, same, batch_norm, act))
            maps = out
            if not same:
                frames -= k - 1
        self.body = nn.Sequential(*body)
        self.head = dense_head(2 * maps, dense or [256, 128], classes, act,
                               dropout, batch_norm, input_dropout=True)
        _init_weights(self, init)

    def forward(self, x):
        maps = self.body(x).flatten(2)  # [B, C, frames].
        pooled = torch.cat([maps.max(2)[0], maps.mean(2)], 1)
        return self.head(pooled)


class Mlp(nn.Module):
    """mlp (seeds 001 and 002), as worker/models/mlp.cc."""

    def __init__(self, sample_shape, classes, pool=2, batch_norm=True,
                 dropout=0.0, dense=None, activation=None, init="default",
                 **unused):
        super().__init__()
        features = 1
        for s in sample_shape:
            features *= int(s)
        self.layers = dense_head(features, dense or [512, 256], classes,
                                 activation or "relu", dropout, batch_norm,
                                 input_dropout=False)
        _init_weights(self, init)

    def forward(self, x):
        return self.layers(x.flatten(1))


def build_model(name, sample_shape, classes, **config):
    """The model `name` (one of MODELS) for samples of `sample_shape` and
    `classes` classes, in train mode, initialised from torch's RNG. `config`
    holds hpo's trainer settings (channels, kernel_size, padding, pool,
    batch_norm, dropout, dense, gru_hidden, gru_layers, bidirectional,
    activation, init); absent or None means hpo's default. Raises
    ValueError for an unknown model or settings that cannot work."""
    config = {k: v for k, v in config.items() if v is not None}
    if name == "cnn":
        return Cnn(sample_shape, classes, **config)
    if name == "unet_encoder":
        return UnetEncoder(sample_shape, classes, **config)
    if name in ("crnn", "dcnn", "dcrnn"):
        return Hybrid(name, sample_shape, classes, **config)
    if name == "resnet":
        return Resnet(sample_shape, classes, **config)
    if name == "mlp":
        return Mlp(sample_shape, classes, **config)
    raise ValueError("model: unknown %r; use one of %s" %
                     (name, ", ".join(MODELS)))


def count_parameters(model):
    """Trainable parameters (requires_grad), as hpo's CountParameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build_optimizer(name, params, lr=1e-3, weight_decay=0.0, momentum=0.0,
                    nesterov=False, beta1=0.9, beta2=0.999, eps=-1,
                    alpha=0.99, rho=0.9):
    """torch.optim's class for hpo's optimizer `name` with hpo's settings
    (worker/optimizers.h: eps -1 takes the optimizer's default; sgd has
    dampening 0; rmsprop is not centered; adagrad has no lr decay)."""
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=(beta1, beta2),
                   eps=1e-8 if eps < 0 else eps, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum,
                               nesterov=nesterov, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=alpha,
                                   eps=1e-8 if eps < 0 else eps,
                                   momentum=momentum,
                                   weight_decay=weight_decay)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr,
                                   eps=1e-10 if eps < 0 else eps,
                                   weight_decay=weight_decay)
    if name == "adadelta":
        return torch.optim.Adadelta(params, lr=lr, rho=rho,
                                    eps=1e-6 if eps < 0 else eps,
                                    weight_decay=weight_decay)
    raise ValueError("optimizer: unknown %r" % name)

"""Loss mistakes as real users made them, rebuilt from public bug reports.

Each case is our own minimal reproduction of one report (same mistake, same shapes/dtypes pattern; our own
code and names; CPU, small tensors), written as the notebook cell a user would type. The report it comes
from is the case's ``source``. For CUDA-only reports the CPU equivalent is used.

Sections:
- FAILING: the cell raises; the hint (the text from the first "nllhint" line on: the traceback above it echoes
  the user's code) must show the catalog category ``[slug]`` and the key of the fix (any alternative given),
  and none of ``forbid``. Some are two-cell notebooks (``setup`` runs first): an earlier cell's model stays in
  the namespace and must not be blamed.
- CORRECT: the reports' *fixed* versions, followed by an unrelated error (or by nothing): no "nllhint" line.
- SILENT / SILENT_CORRECT: mistakes that raise nothing, run under ``%%losscheck``; the report must name the
  category and fix, or say "no problems found" for correct code.
Each case runs in a fresh namespace (``%reset -f``), as its own notebook would.

Cases nllhint gets wrong today are marked ``xfail(strict=True)`` with what it shows instead, so a rule
that fixes one turns the run red until the mark is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    category: str | tuple[str, ...]  # accepted catalog slug(s)
    fix: str | tuple[str, ...] | None  # accepted fix key(s); None: the category alone is checked
    cell: str
    setup: str | None = None  # an earlier notebook cell (runs without error) in the same namespace
    forbid: tuple[str, ...] = ()  # text the hint must not show (e.g. a model from an earlier cell)


def _any(value) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


# --------------------------------------------------------------------------------------------------
# Failing cells: (id, source, expected category, expected fix key, cell)
# --------------------------------------------------------------------------------------------------
FAILING: list[Case] = [
    # ---------------------------------------------------------------- target-range
    Case(
        "pyabsa-head-has-2-outputs-3-polarities",
        "https://github.com/yangheng95/PyABSA/issues/375",
        "target-range",
        ("in_features, 3)", "Linear(16, 3)", "num_labels=3"),
        """
        import torch, torch.nn as nn
        import torch.nn.functional as F
        torch.manual_seed(0)

        class SentimentHead(nn.Module):
            def __init__(self, hidden=16, num_labels=2):
                super().__init__()
                self.dropout = nn.Dropout(0.1)
                self.classifier = nn.Linear(hidden, num_labels)

            def forward(self, pooled):
                return self.classifier(self.dropout(pooled))

        head = SentimentHead()
        pooled = torch.randn(8, 16)
        polarity = torch.tensor([0, 2, 1, 1, 0, 2, 2, 1])   # negative / neutral / positive
        logits = head(pooled)
        loss = F.cross_entropy(logits, polarity)
        """,
    ),
    Case(
        "happy-transformer-sentiment-minus1-0-1",
        "https://github.com/EricFillion/happy-transformer/issues/248",
        "target-range",
        ("labels + 1",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        csv_values = [-1, 0, 1, 1, -1, 0, 1, -1]      # the CSV's sentiment column
        labels = torch.tensor(csv_values)
        model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 3))
        features = torch.randn(8, 32)
        criterion = nn.CrossEntropyLoss()
        loss = criterion(model(features), labels)
        """,
    ),
    Case(
        "unet-binary-mask-read-as-0-255",
        "https://github.com/milesial/Pytorch-UNet/issues/291",
        "target-range",
        ("// 255", "> 0", "/ 255", "== 255", "> 127"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        net = nn.Conv2d(3, 2, kernel_size=3, padding=1)        # n_classes = 2
        imgs = torch.rand(2, 3, 16, 16)
        true_masks = (torch.rand(2, 16, 16) > 0.7).long() * 255   # PNG masks read as 0/255
        masks_pred = net(imgs)
        criterion = nn.CrossEntropyLoss()
        loss = criterion(masks_pred, true_masks)
        """,
    ),
    Case(
        "unet-resized-grey-mask-values",
        "https://github.com/milesial/Pytorch-UNet/issues/291",
        "target-range",
        ("> 127", "nearest", "// 255", "> 0"),
        """
        import torch, torch.nn as nn
        import torch.nn.functional as F
        torch.manual_seed(0)
        net = nn.Conv2d(3, 2, kernel_size=3, padding=1)
        mask_png = (torch.rand(2, 1, 16, 16) > 0.6).float() * 255
        # masks resized with bilinear interpolation: grey values appear on the edges (the report's Target 192)
        true_masks = F.interpolate(mask_png, size=(12, 12), mode="bilinear").squeeze(1).long()
        masks_pred = net(torch.rand(2, 3, 12, 12))
        loss = nn.CrossEntropyLoss()(masks_pred, true_masks)
        """,
    ),
    Case(
        "bert-chinese-13-classes-labels-1-to-13",
        "https://github.com/649453932/Bert-Chinese-Text-Classification-Pytorch/issues/96",
        "target-range",
        ("labels - 1",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        num_classes = 13
        fc = nn.Linear(768, num_classes)
        pooled_output = torch.randn(16, 768)
        # class ids taken from the line numbers of class.txt
        labels = torch.tensor([1, 5, 13, 7, 2, 13, 9, 11, 3, 4, 6, 8, 10, 12, 1, 13])
        outputs = fc(pooled_output)
        loss = nn.functional.cross_entropy(outputs, labels)
        """,
    ),
    Case(
        "kcbert-num-labels-left-at-default-2",
        "https://github.com/Beomi/KcBERT/issues/3",
        "target-range",
        ("in_features, 5)", "num_labels=5", "Linear(32, 5)"),
        """
        import torch, torch.nn as nn
        from types import SimpleNamespace
        torch.manual_seed(0)

        class TinyClassifier(nn.Module):          # loss computed inside forward, like HF models
            def __init__(self, hidden_size=32, num_labels=2):
                super().__init__()
                self.num_labels = num_labels
                self.classifier = nn.Linear(hidden_size, num_labels)

            def forward(self, pooled, labels=None):
                logits = self.classifier(pooled)
                loss = None
                if labels is not None:
                    loss_fct = nn.CrossEntropyLoss()
                    loss = loss_fct(logits.view(-1, self.num_labels), labels.view(-1))
                return SimpleNamespace(loss=loss, logits=logits)

        model = TinyClassifier()                   # the data has 5 classes
        pooled = torch.randn(6, 32)
        labels = torch.tensor([0, 4, 2, 3, 1, 4])
        out = model(pooled, labels=labels)
        """,
    ),
    Case(
        "leedl-hw3-unlabeled-images-minus1",
        "https://github.com/datawhalechina/leedl-tutorial/issues/89",
        "target-range",
        ("ignore_index=-1",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 11))
        imgs = torch.rand(8, 3, 8, 8)
        labels = torch.tensor([3, -1, 7, 0, -1, 10, 2, -1])    # the dataset returns -1 for unlabeled images
        criterion = nn.CrossEntropyLoss()
        logits = model(imgs)
        loss = criterion(logits, labels)
        """,
    ),
    Case(
        "voc-boundary-pixels-255",
        "https://github.com/VainF/DeepLabV3Plus-Pytorch/issues/91",
        "target-range",
        ("ignore_index=255",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        num_classes = 21
        head = nn.Conv2d(8, num_classes, 1)
        feats = torch.randn(2, 8, 10, 10)
        target = torch.randint(0, num_classes, (2, 10, 10))
        target[:, 4, :] = 255                       # object boundaries are 255 in VOC masks
        criterion = nn.CrossEntropyLoss(reduction="mean")
        outputs = head(feats)
        loss = criterion(outputs, target)
        """,
    ),
    # ---------------------------------------------------------------- target-shape
    Case(
        "deepchem-labels-n-by-1",
        "https://github.com/deepchem/deepchem/issues/2323",
        "target-shape",
        ("squeeze(1)", "squeeze(-1)", "view(-1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        output = nn.Linear(10, 2)(torch.randn(5, 10))
        labels = torch.tensor([[0], [1], [1], [0], [1]])
        loss_fn = nn.CrossEntropyLoss()
        loss = loss_fn(output, labels)
        """,
    ),
    Case(
        "convnet-nll-tensordataset-label-column",
        "https://github.com/pytorch/pytorch/issues/3670",
        "target-shape",
        ("squeeze(1)", "squeeze(-1)", "view(-1)"),
        """
        import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
        from torch.utils.data import TensorDataset, DataLoader

        class ConvNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 4, 3)
                self.fc = nn.Linear(4 * 6 * 6, 7)

            def forward(self, x):
                x = F.relu(self.conv(x))
                x = x.view(x.size(0), -1)
                return F.log_softmax(self.fc(x), dim=1)

        rng = np.random.default_rng(0)
        X = torch.tensor(rng.random((12, 1, 8, 8)), dtype=torch.float32)
        y = torch.tensor(rng.integers(0, 7, size=(12, 1)))     # label column read from a CSV
        loader = DataLoader(TensorDataset(X, y), batch_size=4)
        net = ConvNet()
        criterion = nn.NLLLoss()
        for images, labels in loader:
            y_pred = net(images)
            loss = criterion(y_pred, labels)
        """,
    ),
    Case(
        "one-hot-int64-targets-cross-entropy",
        "https://taourl.com/read-2437117.html",
        "target-shape",
        ("argmax(dim=1)", "argmax(1)"),
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        classes = torch.tensor([1, 3, 0, 4, 2, 3])
        target = F.one_hot(classes, num_classes=5)          # one-hot encoded labels
        output = nn.Linear(12, 5)(torch.randn(6, 12))
        loss_fn = nn.CrossEntropyLoss()
        loss = loss_fn(output, target)
        """,
    ),
    Case(
        "camvid-one-hot-masks-n-c-h-w",
        "https://github.com/UsamaI000/CamVid-Segmentation-Pytorch/issues/2",
        "target-shape",
        ("argmax(dim=1)", "argmax(1)"),
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        n_classes = 12
        model = nn.Conv2d(3, n_classes, 3, padding=1)
        images = torch.rand(2, 3, 16, 16)
        index_mask = torch.randint(0, n_classes, (2, 16, 16))
        masks = F.one_hot(index_mask, n_classes).permute(0, 3, 1, 2)    # rgb mask -> one channel per class
        criterion = nn.CrossEntropyLoss()
        loss = criterion(model(images), masks)
        """,
    ),
    Case(
        "deeplab-mask-kept-channel-axis",
        "https://github.com/jfzhang95/pytorch-deeplab-xception/issues/189",
        "target-shape",
        ("squeeze(1)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        logit = nn.Conv2d(3, 4, 1)(torch.rand(2, 3, 16, 16))
        target = torch.randint(0, 4, (2, 1, 16, 16)).float()      # mask went through ToTensor(): (N, 1, H, W)
        criterion = nn.CrossEntropyLoss(ignore_index=255)
        loss = criterion(logit, target.long())
        """,
    ),
    Case(
        "unet-kitti-batch-1-mask-1-1-h-w",
        "https://github.com/milesial/Pytorch-UNet/issues/226",
        "target-shape",
        ("squeeze(1)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        net = nn.Conv2d(3, 20, 3, padding=1)        # 20 KITTI classes
        imgs = torch.rand(1, 3, 12, 20)
        true_masks = torch.randint(0, 20, (1, 1, 12, 20))
        criterion = nn.CrossEntropyLoss()
        masks_pred = net(imgs)
        loss = criterion(masks_pred, true_masks)
        """,
    ),
    Case(
        "bisrnet-rgb-color-mask-nll",
        "https://github.com/DingLei14/Bi-SRNet/issues/1",
        "target-shape",
        None,
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        nll_loss = nn.NLLLoss(ignore_index=255)
        outputs_A = nn.Conv2d(3, 7, 1)(torch.rand(2, 3, 16, 16))
        palette = torch.tensor([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])
        labels_A = palette[torch.randint(0, 4, (2, 16, 16))]      # colour label image (N, H, W, 3)
        loss_seg = nll_loss(F.log_softmax(outputs_A, dim=1), labels_A)
        """,
    ),
    # ---------------------------------------------------------------- target-dtype
    Case(
        "smp-multiclass-mask-float32",
        "https://github.com/qubvel-org/segmentation_models.pytorch/issues/466",
        "target-dtype",
        ("mask.long()",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Conv2d(3, 5, 3, padding=1)
        image = torch.rand(4, 3, 16, 16)
        mask = torch.randint(0, 5, (4, 16, 16)).float()     # masks stored as float32 arrays
        loss_fn = nn.CrossEntropyLoss()
        loss = loss_fn(model(image), mask)
        """,
    ),
    Case(
        "foolbox-int32-labels-from-numpy",
        "https://github.com/bethgelab/foolbox/issues/647",
        "target-dtype",
        ("labels.long()",),
        """
        import numpy as np, torch, torch.nn as nn
        model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))
        images = torch.rand(4, 3, 8, 8)
        labels = torch.from_numpy(np.array([3, 1, 7, 0], dtype=np.int32))
        criterion = nn.CrossEntropyLoss()
        loss = criterion(model(images), labels)
        """,
    ),
    Case(
        "ml-book-hf-style-model-int32-labels",
        "https://github.com/rasbt/machine-learning-book/issues/192",
        "target-dtype",
        (".long()",),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)

        class ReviewClassifier(nn.Module):
            def __init__(self, vocab=100, dim=16):
                super().__init__()
                self.emb = nn.EmbeddingBag(vocab, dim)
                self.out = nn.Linear(dim, 2)

            def forward(self, input_ids, labels=None):
                logits = self.out(self.emb(input_ids))
                loss = nn.functional.cross_entropy(logits, labels) if labels is not None else None
                return {"loss": loss, "logits": logits}

        model = ReviewClassifier()
        input_ids = torch.randint(0, 100, (4, 12))
        sentiment = np.array([1, 0, 0, 1], dtype=np.int32)     # column read through Spark -> pandas
        labels = torch.tensor(sentiment)
        outputs = model(input_ids, labels=labels)
        """,
    ),
    Case(
        "openocr-flattened-int32-char-labels",
        "https://github.com/Topdu/OpenOCR/issues/68",
        "target-dtype",
        (".long()",),
        """
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        answer1_pred = torch.randn(2, 6, 40, requires_grad=True)    # (batch, steps, charset)
        label = torch.randint(0, 39, (2, 6), dtype=torch.int32)
        label[:, 4:] = 39                                            # padding id
        loss1 = F.cross_entropy(answer1_pred.flatten(0, 1), label.flatten(0, 1), ignore_index=39, reduction="mean")
        """,
    ),
    Case(
        "dcgan-bce-label-from-int-fill",
        "https://github.com/pytorch/pytorch/issues/45373",
        "target-dtype",
        ("label.float()", "dtype=torch.float"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        netD = nn.Sequential(nn.Flatten(), nn.Linear(64, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        real_label = 1
        real_cpu = torch.rand(8, 1, 8, 8)
        b_size = real_cpu.size(0)
        label = torch.full((b_size,), real_label)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        """,
    ),
    Case(
        "hne-bce-sigmoid-multilabel-int64",
        "https://github.com/yangji9181/HNE/issues/13",
        "target-dtype",
        ("matched_labels.float()",),
        """
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        embed = torch.randn(10, 4, requires_grad=True)
        matched_index = torch.tensor([0, 2, 5, 7])
        matched_labels = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 1]])
        predict_loss = F.binary_cross_entropy(torch.sigmoid(embed[matched_index]), matched_labels)
        """,
    ),
    Case(
        "rnn-sentiment-bcewithlogits-int64-target",
        "https://github.com/PacktPublishing/Mastering-PyTorch/issues/4",
        "target-dtype",
        ("sentiment.float()",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)

        class RNNClassifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = nn.Embedding(50, 8)
                self.rnn = nn.RNN(8, 16, batch_first=True)
                self.fc = nn.Linear(16, 1)

            def forward(self, text):
                _, h = self.rnn(self.emb(text))
                return self.fc(h.squeeze(0))

        model = RNNClassifier()
        loss_func = nn.BCEWithLogitsLoss()
        text = torch.randint(0, 50, (4, 7))
        sentiment = torch.tensor([1, 0, 1, 1])
        preds = model(text).squeeze(1)
        loss = loss_func(preds, sentiment)
        """,
    ),
    Case(
        "hf-multilabel-logits-int64-labels",
        "https://github.com/ando-khachatryan/HiDDeN/issues/28",
        "target-dtype",
        ("labels.float()",),
        """
        import torch, torch.nn as nn
        from types import SimpleNamespace
        torch.manual_seed(0)
        outputs = SimpleNamespace(logits=nn.Linear(32, 6)(torch.randn(4, 32)))
        labels = torch.tensor([[1, 0, 0, 1, 0, 0], [0, 0, 1, 0, 0, 0], [1, 1, 0, 0, 0, 1], [0, 0, 0, 0, 1, 0]])
        loss_fct = nn.BCEWithLogitsLoss()
        loss = loss_fct(outputs.logits, labels)
        """,
    ),
    Case(
        "csv-float64-whole-number-labels-cross-entropy",
        "https://github.com/hunkim/PyTorchZeroToAll/issues/38",
        "target-dtype",
        ("y_data.long()",),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)
        data = np.array([[0.1, 0.5, 0.3, 2.0], [0.9, 0.2, 0.4, 0.0], [0.3, 0.3, 0.8, 1.0], [0.5, 0.1, 0.2, 2.0]])
        x_data = torch.from_numpy(data[:, :-1]).float()
        y_data = torch.from_numpy(data[:, -1])             # float64 column holding 0., 1., 2.
        model = nn.Linear(3, 3)
        criterion = nn.CrossEntropyLoss()
        y_pred = model(x_data)
        loss = criterion(y_pred, y_data)
        """,
    ),
    # ---------------------------------------------------------------- input-dtype
    Case(
        "ml-book-pred-long-into-cross-entropy",
        "https://github.com/rasbt/machine-learning-book/issues/144",
        "input-dtype",
        ("loss_fn(pred, y_batch)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 16), nn.Sigmoid(), nn.Linear(16, 3))
        loss_fn = nn.CrossEntropyLoss()
        x_batch = torch.randn(2, 4)
        y_batch = torch.tensor([0, 2])
        pred = model(x_batch)
        loss = loss_fn(pred.long(), y_batch)
        """,
    ),
    Case(
        "qa-bcewithlogits-on-argmax-positions",
        "https://github.com/pytorch/pytorch/issues/40357",
        "input-dtype",
        ("start_logits", "cross_entropy"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        start_logits = torch.randn(4, 10, requires_grad=True)
        end_logits = torch.randn(4, 10, requires_grad=True)
        start_scores = torch.argmax(start_logits, dim=1)
        end_scores = torch.argmax(end_logits, dim=1)
        pred = torch.stack([start_scores, end_scores], dim=1)
        label = torch.tensor([[2, 5], [0, 3], [4, 9], [1, 1]])
        batch_loss = nn.BCEWithLogitsLoss()(pred, label)
        """,
    ),
    Case(
        "bce-float64-target-from-numpy",
        "https://github.com/ultmaster/neuralpredictor.pytorch/issues/5",
        ("input-dtype", "target-dtype"),
        ("targets.float()",),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)
        probs = torch.sigmoid(nn.Linear(6, 1)(torch.randn(5, 6))).squeeze(1)
        targets = torch.from_numpy(np.array([1., 0., 1., 1., 0.]))     # float64 from NumPy
        loss = nn.BCELoss()(probs, targets)
        """,
    ),
    # ---------------------------------------------------------------- batch-mismatch
    Case(
        "wideresnet-view-minus1-on-bigger-images",
        "https://github.com/uoguelph-mlrg/Cutout/issues/16",
        "batch-mismatch",
        ("flatten(1)", "out.size(0), -1", "view(out.size(0)"),
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)

        class SmallWRN(nn.Module):
            def __init__(self, num_classes=10):
                super().__init__()
                self.nChannels = 16
                self.conv = nn.Conv2d(3, 16, 3, padding=1, stride=4)
                self.fc = nn.Linear(16, num_classes)

            def forward(self, x):
                out = F.relu(self.conv(x))
                out = F.avg_pool2d(out, 8)
                out = out.view(-1, self.nChannels)
                return self.fc(out)

        model = SmallWRN()
        images = torch.rand(4, 3, 64, 64)        # written for 32x32 CIFAR images
        labels = torch.randint(0, 10, (4,))
        criterion = nn.CrossEntropyLoss()
        pred = model(images)
        loss = criterion(pred, labels)
        """,
    ),
    Case(
        "lenet-view-16x5x5-on-52px-images",
        "https://github.com/qijiezhao/pseudo-3d-pytorch/issues/28",
        "batch-mismatch",
        ("flatten(1)", "x.size(0), -1", "view(x.size(0)"),
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(3, 6, 5)
                self.pool = nn.MaxPool2d(2, 2)
                self.conv2 = nn.Conv2d(6, 16, 5)
                self.fc1 = nn.Linear(16 * 5 * 5, 120)
                self.fc2 = nn.Linear(120, 10)

            def forward(self, x):
                x = self.pool(F.relu(self.conv1(x)))
                x = self.pool(F.relu(self.conv2(x)))
                x = x.view(-1, 16 * 5 * 5)
                x = F.relu(self.fc1(x))
                return self.fc2(x)

        net = Net()
        criterion = nn.CrossEntropyLoss()
        inputs = torch.rand(4, 3, 52, 52)
        labels = torch.randint(0, 10, (4,))
        outputs = net(inputs)
        loss = criterion(outputs, labels)
        """,
    ),
    Case(
        "multi-input-model-cat-along-batch",
        "https://github.com/pytorch/pytorch/issues/139031",
        "batch-mismatch",
        ("dim=1",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)

        class MultiInputNet(nn.Module):
            def __init__(self, n_inputs=6, n_classes=3):
                super().__init__()
                self.branches = nn.ModuleList([nn.Linear(5, 8) for _ in range(n_inputs)])
                self.head = nn.Linear(8, n_classes)

            def forward(self, inputs):
                feats = [branch(x) for branch, x in zip(self.branches, inputs)]
                return self.head(torch.cat(feats))

        model = MultiInputNet()
        inputs = [torch.randn(10, 5) for _ in range(6)]
        targets = torch.randint(0, 3, (10,))
        loss = nn.CrossEntropyLoss()(model(inputs), targets)
        """,
    ),
    Case(
        "question-generation-decoder-one-step-short",
        "https://github.com/gauthierdmn/question_generation/issues/4",
        "batch-mismatch",
        ("question[:, 1:]",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        vocab, batch, q_len = 30, 4, 8
        decoder = nn.GRU(16, 32, batch_first=True)
        proj = nn.Linear(32, vocab)
        question = torch.randint(1, vocab, (batch, q_len))
        dec_in = torch.randn(batch, q_len - 1, 16)       # decoder is fed question[:, :-1]
        out, _ = decoder(dec_in)
        pred = proj(out)                                  # (batch, q_len - 1, vocab)
        criterion = nn.CrossEntropyLoss(ignore_index=0)
        loss = criterion(pred.view(-1, pred.size(2)), question.view(-1))
        """,
    ),
    Case(
        "farm-one-hot-label-ids-flattened",
        "https://github.com/deepset-ai/FARM/issues/100",
        ("target-shape", "batch-mismatch"),
        ("argmax(dim=1)", "argmax(1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        loss_fct = nn.CrossEntropyLoss(reduction="none")
        logits = nn.Linear(24, 4)(torch.randn(8, 24))
        label_ids = torch.eye(4, dtype=torch.long)[torch.tensor([1, 2, 1, 3, 0, 1, 0, 1])]   # one-hot rows
        per_sample_loss = loss_fct(logits, label_ids.view(-1))
        """,
    ),
    Case(
        "cylinder3d-fixed-val-batch-size-last-batch",
        "https://github.com/xinge008/Cylinder3D/issues/58",
        "batch-mismatch",
        ("shape[0]", "size(0)", "len("),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)

        class PointNet(nn.Module):
            def __init__(self, n_classes=4):
                super().__init__()
                self.fc = nn.Linear(12, n_classes)

            def forward(self, pts, batch_size):
                feats = pts.reshape(batch_size, -1, 12).mean(1)
                return self.fc(feats)

        model = PointNet()
        val_batch_size = 6
        pts = torch.randn(2, 36, 12)          # the last validation batch only has 2 scans
        labels = torch.randint(0, 4, (2,))
        predict_labels = model(pts, val_batch_size)
        loss = nn.functional.cross_entropy(predict_labels, labels)
        """,
    ),
    Case(
        "resume-ner-labels-built-from-batch-size",
        "https://github.com/singhsourabh/Resume-NER/issues/6",
        "batch-mismatch",
        ("size(1)", "max_len"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        num_tags, max_len = 5, 12
        token_logits = nn.Linear(16, num_tags)(torch.randn(1, max_len, 16))
        input_ids = torch.randint(0, 100, (1, max_len))
        labels = torch.tensor([1] * input_ids.size(0), dtype=torch.long).unsqueeze(0)
        loss = nn.CrossEntropyLoss()(token_logits.view(-1, num_tags), labels.view(-1))
        """,
    ),
    Case(
        "multiscale-attention-batch-1-mask-squeezed",
        "https://github.com/sinAshish/Multi-Scale-Attention/issues/16",
        ("batch-mismatch", "target-shape"),
        ("unsqueeze(0)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        net = nn.Conv2d(1, 5, 3, padding=1)
        image = torch.rand(1, 1, 32, 32)
        Segmentation_class = torch.randint(0, 5, (1, 32, 32)).squeeze()   # squeeze() also dropped the batch axis
        outputs0 = net(image)
        CE_loss = nn.CrossEntropyLoss()
        loss0 = CE_loss(outputs0, Segmentation_class)
        """,
    ),
    # ---------------------------------------------------------------- class-dim
    Case(
        "lstm-tagger-n-t-c-scores",
        "https://github.com/markhliu/DGAI/issues/7",
        "class-dim",
        ("permute(0, 2, 1)", "transpose(1, 2)", "transpose(2, 1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)

        class LSTMTagger(nn.Module):
            def __init__(self, vocab_size=50, emb=8, hidden=16, tagset_size=6):
                super().__init__()
                self.emb = nn.Embedding(vocab_size, emb)
                self.lstm = nn.LSTM(emb, hidden, batch_first=True)
                self.hidden2tag = nn.Linear(hidden, tagset_size)

            def forward(self, sentences):
                lstm_out, _ = self.lstm(self.emb(sentences))
                return self.hidden2tag(lstm_out)

        model = LSTMTagger()
        sentences = torch.randint(0, 50, (4, 9))
        tags = torch.randint(0, 6, (4, 9))
        loss_function = nn.CrossEntropyLoss()
        tag_scores = model(sentences)
        loss = loss_function(tag_scores, tags)
        """,
    ),
    Case(
        "captioning-scores-n-t-v-and-longer-captions",
        "https://github.com/sgrvinod/a-PyTorch-Tutorial-to-Image-Captioning/issues/195",
        "class-dim",
        None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        vocab_size = 30
        decoder_out = nn.Linear(20, vocab_size)
        scores = decoder_out(torch.randn(4, 6, 20))       # (batch, decode steps, vocab)
        targets = torch.randint(0, vocab_size, (4, 11))   # padded captions (batch, max caption length)
        criterion = nn.CrossEntropyLoss()
        loss = criterion(scores, targets)
        """,
    ),
    Case(
        "segnet-output-transposed-to-nhwc",
        "https://github.com/erogol/seg-torch/issues/5",
        "class-dim",
        ("permute(0, 3, 1, 2)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Conv2d(3, 4, 1)
        x = torch.rand(2, 3, 8, 8)
        masks = torch.randint(0, 4, (2, 8, 8))
        out = model(x).permute(0, 2, 3, 1)           # (N, H, W, C), a per-pixel probability map
        loss = nn.CrossEntropyLoss()(out, masks)
        """,
    ),
    # ---------------------------------------------------------------- shape-mismatch
    Case(
        "bcewithlogits-output-n1-target-n",
        "https://github.com/pytorch/pytorch/issues/25663",
        "shape-mismatch",
        ("squeeze(1)", "view(-1)", "unsqueeze(1)", "squeeze(-1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 8), nn.ReLU(), nn.Linear(8, 1))
        data = torch.randn(16, 20)
        target = torch.randint(0, 2, (16,)).float()
        criterion = nn.BCEWithLogitsLoss()
        output = model(data)
        loss = criterion(output, target)
        """,
    ),
    Case(
        "wnet-bceloss-output-n1-label-n",
        "https://github.com/Arctanxy/W-Net-PyTorch/issues/15",
        "shape-mismatch",
        ("squeeze(1)", "view(-1)", "unsqueeze(1)", "squeeze(-1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        disc = nn.Sequential(nn.Linear(10, 1), nn.Sigmoid())
        out = disc(torch.randn(6, 10))
        real_label = torch.ones(6, dtype=torch.long)
        bce = nn.BCELoss()
        loss = bce(out, real_label.float())
        """,
    ),
    Case(
        "skorch-binary-n1-output-int64-y",
        "https://github.com/skorch-dev/skorch/issues/813",
        "shape-mismatch",
        ("squeeze(1)", "view(-1)", "unsqueeze(1)", "squeeze(-1)"),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)
        X = torch.randn(8, 10)
        y_train = np.array([0, 1, 1, 0, 1, 0, 0, 1]).astype(np.int64)
        module = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
        criterion = nn.BCEWithLogitsLoss()
        y_pred = module(X)
        loss = criterion(y_pred, torch.from_numpy(y_train))
        """,
    ),
    Case(
        "unet-mask-png-saved-as-rgb",
        "https://github.com/milesial/Pytorch-UNet/issues/244",
        "shape-mismatch",
        ("[:, :1]", "[:, 0:1]", "convert('L')", 'convert("L")', "keepdim=True"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        net = nn.Conv2d(3, 1, 3, padding=1)          # n_classes = 1
        imgs = torch.rand(1, 3, 32, 32)
        true_masks = (torch.rand(1, 1, 32, 32) > 0.5).float().repeat(1, 3, 1, 1)   # mask PNG saved as RGB
        criterion = nn.BCEWithLogitsLoss()
        masks_pred = net(imgs)
        loss = criterion(masks_pred, true_masks)
        """,
    ),
    Case(
        "fcn-camvid-32-classes-model-20",
        "https://github.com/pochih/FCN-pytorch/issues/15",
        "shape-mismatch",
        ("in_channels, 32", "Conv2d(3, 32", "n_class = 32", "out_channels=32"),
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        n_class = 20
        fcn_model = nn.Conv2d(3, n_class, 1)
        inputs = torch.rand(2, 3, 12, 16)
        labels = F.one_hot(torch.randint(0, 32, (2, 12, 16)), 32).permute(0, 3, 1, 2).float()   # CamVid: 32 classes
        criterion = nn.BCEWithLogitsLoss()
        outputs = fcn_model(inputs)
        loss = criterion(outputs, labels)
        """,
    ),
    Case(
        "tutorial-swapped-ce-for-bceloss-two-outputs",
        "https://github.com/patrickloeber/pytorchTutorial/issues/30",
        ("shape-mismatch", "wrong-loss"),
        ("CrossEntropyLoss",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 2))    # ants vs bees
        inputs = torch.rand(4, 3, 8, 8)
        labels = torch.tensor([0, 1, 1, 0])
        criterion = nn.BCELoss()
        outputs = model(inputs)
        loss = criterion(outputs, labels)
        """,
        forbid=("criterion(outputs, F.one_hot",),   # BCELoss on raw Linear outputs fails next
    ),
    Case(
        "adsh-12-outputs-21-concepts",
        "https://github.com/jiangqy/ADSH-AAAI2018/issues/5",
        "shape-mismatch",
        ("in_features, 21)", "Linear(50, 21)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        code_length = 12
        model = nn.Linear(50, code_length)
        features = torch.randn(8, 50)
        label_vectors = (torch.rand(8, 21) > 0.8).float()     # NUS-WIDE: 21 concepts, multi-hot
        criterion = nn.BCEWithLogitsLoss()
        loss = criterion(model(features), label_vectors)
        """,
    ),
    # ---------------------------------------------------------------- weight-size
    Case(
        "randla-class-weights-1-by-19",
        "https://github.com/tsunghan-wu/RandLA-Net-pytorch/issues/26",
        "weight-size",
        ("squeeze(0)", "view(-1)", "view(19)", "flatten()", "reshape(-1)"),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)
        class_freq = np.random.default_rng(0).integers(100, 10000, size=(1, 19))
        class_weights = torch.from_numpy(1.0 / np.sqrt(class_freq)).float()
        criterion = nn.CrossEntropyLoss(weight=class_weights, reduction="none")
        logits = torch.randn(2, 50, 19)          # (batch, points, classes)
        labels = torch.randint(0, 19, (2, 50))
        loss = criterion(logits.reshape(-1, 19), labels.reshape(-1)).mean()
        """,
    ),
    Case(
        "mhyeeg-weights-from-2-seen-classes-of-3",
        "https://github.com/ispamm/MHyEEG/issues/3",
        "weight-size",
        ("minlength=3", "3 values", "3 entries", "one per class"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        train_distribution = torch.tensor([210., 150.])        # counts of the classes seen in training
        weights = train_distribution.sum() / train_distribution
        criterion = nn.CrossEntropyLoss(weight=weights)
        outputs = nn.Linear(32, 3)(torch.randn(8, 32))
        labels = torch.tensor([2, 1, 2, 2, 1, 1, 2, 1])
        loss = criterion(outputs, labels)
        """,
    ),
    Case(
        "cs224n-class-weights-float64",
        "https://github.com/sebsk/CS224N-Project/pull/2",
        "weight-size",
        ("float()", "float32"),
        """
        import numpy as np, torch, torch.nn as nn
        torch.manual_seed(0)
        train_labels = np.array([0, 0, 0, 1, 2, 0, 1, 0])
        counts = np.bincount(train_labels)
        train_label_weight = torch.tensor(len(train_labels) / (len(counts) * counts))   # float64
        criterion = nn.CrossEntropyLoss(weight=train_label_weight)
        logits = nn.Linear(16, 3)(torch.randn(8, 16))
        loss = criterion(logits, torch.from_numpy(train_labels))
        """,
    ),
    # ---------------------------------------------------------------- backward
    Case(
        "deepner-ce-reduction-none-backward",
        "https://github.com/z814081807/DeepNER/issues/19",
        "backward-nonscalar",
        (".mean()", "reduction='mean'", 'reduction="mean"'),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        criterion = nn.CrossEntropyLoss(reduction='none')
        emissions = nn.Linear(16, 7)(torch.randn(2, 10, 16))
        tags = torch.randint(0, 7, (2, 10))
        loss = criterion(emissions.view(-1, 7), tags.view(-1))
        loss.backward()
        """,
    ),
    Case(
        "fcn-nllloss-reduce-false-backward",
        "https://github.com/pytorch/pytorch/issues/6166",
        "backward-nonscalar",
        (".mean()", "reduction='mean'", 'reduction="mean"'),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        logsoftmax = nn.LogSoftmax(dim=1)
        criterion = nn.NLLLoss(reduce=False)
        outputs = nn.Conv2d(3, 4, 1)(torch.rand(2, 3, 8, 8))
        labels = torch.randint(0, 4, (2, 8, 8))
        outputs = logsoftmax(outputs)
        loss = criterion(outputs, labels)
        loss.backward()
        """,
    ),
    Case(
        "cdpn-l1-loss-on-argmax-bins",
        "https://github.com/LZGMatrix/BOP19_CDPN_2019ICCV/issues/4",
        "no-grad",
        ("argmax",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        head = nn.Conv2d(8, 64, 1)                      # 64 coordinate bins per pixel
        feat = torch.randn(1, 8, 6, 6)
        output_coor_x = head(feat).squeeze()
        pred_x = torch.argmax(output_coor_x, dim=0).float() / 63.0 * 2 - 1
        gt_x = torch.rand(6, 6) * 2 - 1
        loss = nn.functional.l1_loss(pred_x, gt_x)
        loss.backward()
        """,
        forbid=("gt_x.long()",),   # coordinates in [-1, 1] truncated to 0/-1 are not the bin labels
    ),
    Case(
        "dqn-q-values-computed-under-no-grad",
        "https://github.com/pytorch/pytorch/issues/34535",
        "no-grad",
        ("no_grad",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        policy_net = nn.Linear(4, 2)
        target_net = nn.Linear(4, 2)
        state, next_state = torch.randn(8, 4), torch.randn(8, 4)
        action = torch.randint(0, 2, (8, 1))
        reward = torch.randn(8)
        with torch.no_grad():
            q_values = policy_net(state).gather(1, action).squeeze(1)
            next_q = target_net(next_state).max(1)[0]
            expected_q = reward + 0.99 * next_q
        loss = nn.functional.smooth_l1_loss(q_values, expected_q)
        loss.backward()
        """,
        forbid=("`loss` was computed inside", "<- remove"),   # the loss is computed outside; this is training
    ),
    # ---------------------------------------------------------------- ctc-format
    Case(
        "crnn-preds-size-from-fixed-batch-size",
        "https://github.com/Sierkinhane/CRNN_Chinese_Characters_Rec/issues/304",
        "ctc-format",
        ("preds.size(1)", "size(1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        batch_size = 4
        criterion = nn.CTCLoss()
        preds = torch.randn(26, 3, 37).log_softmax(2)      # the last batch has 3 images: (T, N, C)
        text = torch.randint(1, 37, (3 * 5,))
        length = torch.full((3,), 5, dtype=torch.long)
        preds_size = torch.IntTensor([preds.size(0)] * batch_size)
        loss = criterion(preds, text, preds_size, length)
        """,
    ),
    Case(
        "crnn-target-lengths-count-file-extension",
        "https://github.com/Holmeyoung/crnn-pytorch/issues/62",
        "ctc-format",
        None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        criterion = nn.CTCLoss()
        preds = torch.randn(30, 2, 36).log_softmax(2)
        text = torch.randint(1, 36, (2, 8))               # encoded plates, padded to 8
        length = torch.tensor([12, 8])                    # len('AB1234CD.jpg') counted the extension
        preds_size = torch.full((2,), 30, dtype=torch.long)
        cost = criterion(preds, text, preds_size, length)
        """,
    ),
    # ---------------------------------------------------------------- unstable-log / nan
    Case(
        "ace-log-of-softmax-zero-anomaly",
        "https://github.com/summerlvsong/Aggregation-Cross-Entropy/issues/2",
        ("unstable-log", "nan-inf"),
        ("log_softmax",),
        """
        import torch
        torch.manual_seed(0)
        logits = (torch.randn(4, 5) * 60).requires_grad_()
        targets = torch.nn.functional.one_hot(torch.tensor([0, 3, 1, 4]), 5).float()
        with torch.autograd.detect_anomaly():
            probs = torch.softmax(logits, dim=1)
            loss = -(targets * torch.log(probs)).sum(1).mean()
            loss.backward()
        """,
    ),
]


FAILING += [
    Case(
        "ray-sgd-regression-data-into-bceloss",
        "https://github.com/ray-project/ray/issues/17117",
        ("wrong-loss", "bce-range"),
        ("MSELoss",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        x = torch.linspace(-5, 5, 16).unsqueeze(1)
        y = 2 * x + 5                                   # LinearDataset(2, 5): a regression target
        model = nn.Linear(1, 1)
        criterion = nn.BCELoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        output = model(x)
        loss = criterion(output, y)
        """,
    ),
    Case(
        "binary-classifier-bceloss-on-raw-linear-output",
        "https://github.com/pytorch/pytorch/issues/1010",
        "bce-range",
        ("BCEWithLogitsLoss", "sigmoid"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        classifier = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
        criterion = nn.BCELoss()
        x = torch.randn(8, 10)
        y = torch.randint(0, 2, (8, 1)).float()
        out = classifier(x)
        loss = criterion(out, y)
        """,
    ),
    Case(
        "rcf-edge-labels-0-1-2-into-bce",
        "https://github.com/yun-liu/RCF/issues/160",
        "bce-range",
        ("weight", "!= 2", "== 2", "mask"),
        """
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        side_output = torch.rand(1, 1, 16, 16, requires_grad=True)     # sigmoid edge map
        label = torch.zeros(1, 1, 16, 16)
        label[..., 5, :] = 1.0                                          # edge pixels
        label[..., 6, :] = 2.0                                          # uncertain pixels, to be ignored
        loss = F.binary_cross_entropy(side_output, label, reduction="sum")
        """,
    ),
    Case(
        "unet-one-hot-of-0-255-mask",
        "https://github.com/milesial/Pytorch-UNet/issues/322",
        "target-range",
        ("// 255", "/ 255", "> 0", "== 255"),
        """
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        classes = 2
        mask = (torch.rand(2, 16, 16) > 0.5).long() * 255        # binary mask PNG: 0 and 255
        mask_pred = torch.randn(2, classes, 16, 16, requires_grad=True)
        true_one_hot = F.one_hot(mask, classes).permute(0, 3, 1, 2).float()
        """,
    ),
    Case(
        "yolox-one-hot-classes-start-at-1",
        "https://github.com/Megvii-BaseDetection/YOLOX/issues/357",
        "target-range",
        ("- 1",),
        """
        import torch, torch.nn.functional as F
        num_classes = 4
        gt_classes = torch.tensor([1., 3., 4., 2., 4.])           # my dataset numbers classes from 1
        cls_target = F.one_hot(gt_classes.to(torch.int64), num_classes)
        """,
    ),
    Case(
        "bert-pytorch-mlm-nll-without-transpose",
        "https://github.com/codertimo/BERT-pytorch/issues/35",
        "class-dim",
        ("transpose(1, 2)", "permute(0, 2, 1)", "transpose(2, 1)"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        vocab_size, seq_len = 40, 12
        mask_lm = nn.Sequential(nn.Linear(16, vocab_size), nn.LogSoftmax(dim=-1))
        mask_lm_output = mask_lm(torch.randn(2, seq_len, 16))      # (batch, seq_len, vocab)
        bert_label = torch.randint(0, vocab_size, (2, seq_len))
        criterion = nn.NLLLoss(ignore_index=0)
        mask_loss = criterion(mask_lm_output, bert_label)
        """,
    ),
]


FAILING += [
    Case(
        "dcgan-128px-discriminator-patch-map-flattened",
        "https://github.com/pytorch/examples/issues/1278",
        ("shape-mismatch", "batch-mismatch"),
        ("5x5", "5 x 5", "(5, 5)", "25 values", "25 outputs", "per image"),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        ndf = 8
        netD = nn.Sequential(                       # the 64x64 DCGAN discriminator
            nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0), nn.Sigmoid(),
        )
        criterion = nn.BCELoss()
        real_cpu = torch.rand(4, 3, 128, 128)       # image_size changed to 128
        label = torch.full((real_cpu.size(0),), 1.0)
        output = netD(real_cpu).view(-1)
        errD_real = criterion(output, label)
        """,
    ),
    Case(
        "cdcgan-discriminator-6x6-map-vs-batch-labels",
        "https://github.com/znxlwm/pytorch-MNIST-CelebA-cGAN-cDCGAN/issues/11",
        ("shape-mismatch", "batch-mismatch"),
        ("6x6", "6 x 6", "(6, 6)", "36 values", "per image", "mean("),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 2, 1), nn.Sigmoid())
        BCE_loss = nn.BCELoss()
        x_ = torch.rand(8, 1, 24, 24)               # images larger than the 64 -> 1x1 design expects
        y_real_ = torch.ones(8)
        D_result = D(x_).squeeze()
        D_real_loss = BCE_loss(D_result, y_real_)
        """,
    ),
    Case(
        "mmseg-class-weight-as-pos-weight-broadcasts-on-width",
        "https://github.com/open-mmlab/mmsegmentation/issues/2723",
        "weight-size",
        ("view(1, 9, 1, 1)", "reshape(1, -1, 1, 1)", "[:, None, None]", "view(-1, 1, 1)", "reshape(-1, 1, 1)",
         "view(1, -1, 1, 1)"),
        """
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        pred = torch.randn(2, 9, 6, 8, requires_grad=True)      # (N, classes, H, W)
        label = F.one_hot(torch.randint(0, 9, (2, 6, 8)), 9).permute(0, 3, 1, 2).float()
        class_weight = torch.tensor([1, 1, 1, 1, 1, 1, 1, 2, 1], dtype=torch.float)
        loss = F.binary_cross_entropy_with_logits(pred, label, pos_weight=class_weight, reduction="none")
        """,
    ),
    Case(
        "loss-on-torch-max-predictions",
        "https://github.com/pytorch/pytorch/issues/1339",
        "input-dtype",
        ("criterion(output, target)",),
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
        criterion = nn.CrossEntropyLoss()
        data = torch.rand(6, 3, 8, 8)
        target = torch.randint(0, 4, (6,))
        output = model(data)
        _, preds = torch.max(output, 1)
        loss = criterion(preds, target)
        """,
    ),
]


# Two-cell notebooks: a model defined in an earlier cell stays in the namespace. The hint must be about
# the model that produced the loss input, not about the earlier one.
LENET_CELL = """
import torch, torch.nn as nn, torch.nn.functional as F

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        return self.fc2(x)

net = Net()
print(net(torch.rand(2, 3, 32, 32)).shape)     # the CIFAR tutorial model, works on 32x32
"""
FAILING += [
    Case(
        "notebook-earlier-lenet-vs-multi-input-cat",
        "https://github.com/pytorch/pytorch/issues/139031",
        "batch-mismatch",
        ("dim=1",),
        FAILING[[c.id for c in FAILING].index("multi-input-model-cat-along-batch")].cell,
        setup=LENET_CELL,
        forbid=(" Net.forward", "16 * 5 * 5"),   # a space: MultiInputNet.forward is fine
    ),
    Case(
        "notebook-earlier-lenet-vs-last-batch",
        "https://github.com/xinge008/Cylinder3D/issues/58",
        "batch-mismatch",
        ("shape[0]", "size(0)", "len("),
        FAILING[[c.id for c in FAILING].index("cylinder3d-fixed-val-batch-size-last-batch")].cell,
        setup=LENET_CELL,
        forbid=(" Net.forward", "16 * 5 * 5"),   # a space: MultiInputNet.forward is fine
    ),
    Case(
        "notebook-earlier-binary-model-vs-sentiment-head",
        "https://github.com/yangheng95/PyABSA/issues/375",
        "target-range",
        ("head.classifier",),
        FAILING[[c.id for c in FAILING].index("pyabsa-head-has-2-outputs-3-polarities")].cell,
        setup="""
        import torch, torch.nn as nn
        baseline = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 2))   # an earlier binary model
        print(baseline(torch.randn(3, 16)).shape)
        """,
        forbid=("baseline",),
    ),
]


# --------------------------------------------------------------------------------------------------
# Correct code: the reports' fixed versions. Each must show no "nllhint" line, also when an unrelated
# error follows the (correct) loss.
# --------------------------------------------------------------------------------------------------
CORRECT: list[Case] = [
    Case(
        "ok-deepchem-squeezed-labels-then-nameerror",
        "https://github.com/deepchem/deepchem/issues/2323",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        output = nn.Linear(10, 2)(torch.randn(5, 10))
        labels = torch.tensor([[0], [1], [1], [0], [1]])
        loss = nn.CrossEntropyLoss()(output, labels.squeeze(-1))
        print(f"loss {loss.item():.3f} acc {accuracy:.2f}")
        """,
    ),
    Case(
        "ok-lstm-tagger-permuted-then-missing-optimizer",
        "https://duoke360.com/post/35083",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        lstm = nn.LSTM(8, 16, batch_first=True)
        hidden2tag = nn.Linear(16, 6)
        out, _ = lstm(torch.randn(4, 9, 8))
        tag_scores = hidden2tag(out)
        tags = torch.randint(0, 6, (4, 9))
        loss = nn.CrossEntropyLoss()(tag_scores.permute(0, 2, 1), tags)
        loss.backward()
        optimizer_tagger.step()
        """,
    ),
    Case(
        "ok-voc-ignore-index-255-then-metric-typo",
        "https://github.com/VainF/DeepLabV3Plus-Pytorch/issues/91",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        outputs = nn.Conv2d(8, 21, 1)(torch.randn(2, 8, 10, 10))
        target = torch.randint(0, 21, (2, 10, 10))
        target[:, 4, :] = 255
        loss = nn.CrossEntropyLoss(ignore_index=255)(outputs, target)
        miou = compute_miou(outputs.argmax(1), target)
        """,
    ),
    Case(
        "ok-hf-token-classification-minus100-then-keyerror",
        "https://github.com/huggingface/transformers/issues/10051",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        num_labels = 5
        logits = nn.Linear(16, num_labels)(torch.randn(2, 7, 16))
        labels = torch.randint(0, num_labels, (2, 7))
        labels[:, 5:] = -100                   # padding and sub-word pieces
        loss = nn.CrossEntropyLoss()(logits.view(-1, num_labels), labels.view(-1))
        state = {"epoch": 0}
        state["global_step"] += 1
        """,
    ),
    Case(
        "ok-bcewithlogits-float-view-then-assertion",
        "https://github.com/pytorch/pytorch/issues/25663",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        output = nn.Linear(20, 1)(torch.randn(16, 20))
        target = torch.randint(0, 2, (16,))
        loss = nn.BCEWithLogitsLoss()(output.view(-1), target.float())
        assert loss.item() < 0.01, f"loss too high: {loss.item():.3f}"
        """,
    ),
    Case(
        "ok-mixup-soft-targets-cross-entropy-then-nameerror",
        "https://github.com/Thunderbeee/ZSCL/issues/6",
        "", None,
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        logits = nn.Linear(12, 4)(torch.randn(6, 12))
        y_a = F.one_hot(torch.tensor([0, 1, 2, 3, 0, 1]), 4).float()
        y_b = F.one_hot(torch.tensor([3, 2, 1, 0, 3, 2]), 4).float()
        lam = 0.7
        soft_targets = lam * y_a + (1 - lam) * y_b
        loss = F.cross_entropy(logits, soft_targets)
        scheduler.step()
        """,
    ),
    Case(
        "ok-label-smoothing-and-weights-then-cat-size-error",
        "https://github.com/tsunghan-wu/RandLA-Net-pytorch/issues/26",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        class_weights = torch.rand(1, 19).view(-1)
        criterion = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=0.1)
        logits = torch.randn(2, 19, 50)
        labels = torch.randint(0, 19, (2, 50))
        loss = criterion(logits, labels)
        history = torch.cat([torch.zeros(3, 2), torch.zeros(4, 5)])
        """,
    ),
    Case(
        "ok-nll-segmentation-log-softmax-in-forward-then-nameerror",
        "https://github.com/pytorch/pytorch/issues/6166",
        "", None,
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)

        class FCN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)

            def forward(self, x):
                return F.log_softmax(self.conv(x), dim=1)

        model = FCN()
        loss = nn.NLLLoss()(model(torch.rand(2, 3, 8, 8)), torch.randint(0, 4, (2, 8, 8)))
        loss.backward()
        writer.add_scalar("loss", loss.item())
        """,
    ),
    Case(
        "ok-focal-loss-reduction-none-mean-then-index-error",
        "https://github.com/z814081807/DeepNER/issues/19",
        "", None,
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        logits = nn.Linear(16, 7)(torch.randn(20, 16))
        tags = torch.randint(0, 7, (20,))
        ce = F.cross_entropy(logits, tags, reduction="none")
        pt = torch.exp(-ce)
        loss = ((1 - pt) ** 2 * ce).mean()
        loss.backward()
        per_class = [0.0] * 7
        per_class[tags.max().item() + 1] += loss.item()
        """,
    ),
    Case(
        "ok-ctc-t-n-c-log-softmax-then-nameerror",
        "https://github.com/Sierkinhane/CRNN_Chinese_Characters_Rec/issues/304",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        preds = torch.randn(26, 3, 37).log_softmax(2)
        text = torch.randint(1, 37, (3 * 5,))
        length = torch.full((3,), 5, dtype=torch.long)
        preds_size = torch.full((preds.size(1),), preds.size(0), dtype=torch.long)
        loss = nn.CTCLoss(zero_infinity=True)(preds, text, preds_size, length)
        print(converter.decode(preds.argmax(2)))
        """,
    ),
    Case(
        "ok-distillation-kldiv-batchmean-then-typo",
        "https://github.com/SforAiDl/KD_Lib/issues/122",
        "", None,
        """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        T = 4.0
        student_logits = torch.randn(8, 10, requires_grad=True)
        teacher_logits = torch.randn(8, 10)
        labels = torch.randint(0, 10, (8,))
        kd = nn.KLDivLoss(reduction="batchmean")(F.log_softmax(student_logits / T, dim=1),
                                                   F.softmax(teacher_logits / T, dim=1)) * T * T
        loss = 0.9 * kd + 0.1 * F.cross_entropy(student_logits, labels)
        loss.backward()
        print(los.item())
        """,
    ),
    Case(
        "ok-error-in-forward-before-the-loss",
        "https://github.com/uoguelph-mlrg/Cutout/issues/16",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 10))
        criterion = nn.CrossEntropyLoss()
        images = torch.rand(4, 3, 64, 64)
        labels = torch.randint(0, 10, (4,))
        loss = criterion(model(images), labels)
        """,
    ),
    Case(
        "ok-batch-of-one-then-indexerror-out-of-bounds",
        "https://github.com/sinAshish/Multi-Scale-Attention/issues/16",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        outputs = nn.Conv2d(1, 5, 3, padding=1)(torch.rand(1, 1, 16, 16))
        mask = torch.randint(0, 5, (1, 16, 16))
        loss = nn.CrossEntropyLoss()(outputs, mask)
        second = outputs[1]
        """,
    ),
    Case(
        "ok-dcgan-float-labels-then-nameerror",
        "https://github.com/pytorch/pytorch/issues/45373",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        netD = nn.Sequential(nn.Flatten(), nn.Linear(64, 1), nn.Sigmoid())
        criterion = nn.BCELoss()
        real_label, fake_label = 1.0, 0.0
        real_cpu = torch.rand(8, 1, 8, 8)
        label = torch.full((real_cpu.size(0),), real_label, dtype=torch.float)
        errD_real = criterion(netD(real_cpu).view(-1), label)
        errD_real.backward()
        D_x = output_real.mean().item()
        """,
    ),
    Case(
        "ok-regression-mse-matching-shapes-runs",
        "https://github.com/pytorch/pytorch/issues/16045",
        "", None,
        """
        import torch, torch.nn as nn
        torch.manual_seed(0)
        x = torch.randn(100, 2)
        y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + torch.randn(100)
        model = nn.Linear(2, 1)
        loss_val = nn.MSELoss()(model(x), y.reshape(-1, 1))
        loss_val.backward()
        """,
    ),
]
# The last correct case must also have run without error.
CORRECT_RUNS_CLEAN = {"ok-regression-mse-matching-shapes-runs"}


# --------------------------------------------------------------------------------------------------
# Silent mistakes (no exception): the same reports' cells under ``%%losscheck``, which must report the
# category and the fix; and correct code under ``%%losscheck``, which must report no problem.
# --------------------------------------------------------------------------------------------------
SILENT: list[Case] = [
    Case(
        "scico-validation-logits-softmaxed-before-ce",
        "https://github.com/ariecattan/SciCo/issues/2",
        "double-softmax",
        ("criterion(logits, labels)", "drop the softmax", "remove the softmax", "without softmax"),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        classifier = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 4))
        criterion = nn.CrossEntropyLoss()
        features, labels = torch.randn(64, 32), torch.randint(0, 4, (64,))
        with torch.no_grad():
            for _ in range(5):
                logits = classifier(features)
                probs = torch.softmax(logits, dim=-1)
                val_loss = criterion(probs, labels)
        """,
    ),
    Case(
        "text-classification-softmax-into-nllloss",
        "https://github.com/AnubhavGupta3377/Text-Classification-Models-Pytorch/issues/9",
        "input-not-logprob",
        ("log_softmax", "LogSoftmax"),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)

        class TextClassifier(nn.Module):
            def __init__(self, vocab=200, dim=16, n_classes=4):
                super().__init__()
                self.emb = nn.EmbeddingBag(vocab, dim)
                self.fc = nn.Linear(dim, n_classes)
                self.softmax = nn.Softmax(dim=1)

            def forward(self, x):
                return self.softmax(self.fc(self.emb(x)))

        model = TextClassifier()
        loss_op = nn.NLLLoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randint(0, 200, (32, 10)), torch.randint(0, 4, (32,))
        for epoch in range(20):
            optimizer.zero_grad()
            loss = loss_op(model(x), y)      # always negative
            loss.backward()
            optimizer.step()
        """,
    ),
    Case(
        "pointnet-nll-loss-on-raw-scores",
        "https://github.com/yanx27/Pointnet_Pointnet2_pytorch/issues/30",
        "input-not-logprob",
        ("log_softmax", "cross_entropy"),
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        seg_head = nn.Conv1d(64, 8, 1)
        point_feats = torch.randn(4, 64, 128)             # (batch, features, points)
        labels = torch.randint(0, 8, (4, 128))
        for step in range(10):
            labels_pred = seg_head(point_feats)           # raw scores
            label_loss = F.nll_loss(labels_pred, labels)
        """,
    ),
    Case(
        "glue-factory-sigmoid-then-bcewithlogits",
        "https://github.com/cvg/glue-factory/issues/89",
        "double-sigmoid",
        ("remove", "drop", "nn.Sequential(nn.Linear(32, 1))   # cell ["),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        token = nn.Sequential(nn.Linear(32, 1), nn.Sigmoid())
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        desc0 = torch.randn(2, 50, 32)
        correct0 = torch.rand(2, 50) > 0.5
        for step in range(10):
            logit0 = token(desc0).squeeze(-1)
            loss = loss_fn(logit0, correct0.float()).mean(-1)
        """,
    ),
    Case(
        "linear-regression-mse-n1-vs-n",
        "https://github.com/pytorch/pytorch/issues/16045",
        "shape-mismatch",
        ("reshape(-1, 1)", "squeeze(1)", "view(-1)", "unsqueeze(1)", "squeeze(-1)", "view(-1, 1)"),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        x = torch.randn(100, 2)
        y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + torch.randn(100)
        model = nn.Linear(2, 1)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        loss_func = nn.MSELoss()
        for epoch in range(30):
            optimizer.zero_grad()
            yhat = model(x)
            loss_val = loss_func(yhat, y)
            loss_val.backward()
            optimizer.step()
        """,
    ),
    Case(
        "captcha-ctc-input-length-too-short-inf",
        "https://github.com/ypwhs/captcha_break/issues/29",
        "ctc-format",
        ("zero_infinity=True", "input_lengths", "longer"),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        n_input_length, n_len, n_classes = 5, 4, 37      # the image width was reduced: 5 output steps
        ctc_loss = nn.CTCLoss()
        output = torch.randn(n_input_length, 8, n_classes).log_softmax(2)
        target = torch.tensor([[3, 3, 5, 5]] * 4 + [[1, 2, 3, 4]] * 4)   # repeated characters need blanks
        input_lengths = torch.full((8,), n_input_length, dtype=torch.long)
        target_lengths = torch.full((8,), n_len, dtype=torch.long)
        loss = ctc_loss(output, target, input_lengths, target_lengths)
        """,
    ),
    Case(
        "hw2vec-log-softmax-then-cross-entropy",
        "https://github.com/AICPS/hw2vec/issues/23",
        "double-softmax",
        None,
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        mlp = nn.Linear(16, 2)
        loss_func = nn.CrossEntropyLoss()
        graph_emb, label = torch.randn(32, 16), torch.randint(0, 2, (32,))
        for step in range(5):
            output = F.log_softmax(mlp(graph_emb), dim=1)
            loss_train = loss_func(output, label)
        """,
    ),
    Case(
        "proda-kl-div-on-softmax-student",
        "https://github.com/microsoft/ProDA/issues/43",
        "input-not-logprob",
        ("log_softmax",),
        """
        %%losscheck
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        student_out = torch.randn(2, 19, 8, 8, requires_grad=True)
        teacher_out = torch.randn(2, 19, 8, 8)
        student = F.softmax(student_out, dim=1)
        teacher = F.softmax(teacher_out, dim=1)
        loss_kd = F.kl_div(student, teacher, reduction="none")
        loss_kd = loss_kd.sum() / teacher.numel()
        """,
    ),
    Case(
        "mosei-multi-hot-emotions-into-cross-entropy",
        "https://github.com/wenliangdai/Modality-Transferable-MER/issues/3",
        "wrong-loss",
        ("BCEWithLogitsLoss",),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        emotion_head = nn.Linear(40, 6)
        criterion = nn.CrossEntropyLoss()
        features = torch.randn(16, 40)
        labels = (torch.rand(16, 6) > 0.6).float()       # several emotions per clip
        labels[:, 0] = 1.0
        for step in range(5):
            loss = criterion(emotion_head(features), labels)
        """,
    ),
    Case(
        "han-nll-on-log-of-softmax",
        "https://github.com/pandeykartikey/Hierarchical-Attention-Network/issues/3",
        "unstable-log",
        ("log_softmax",),
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        doc_head = nn.Linear(50, 5)
        criterion = nn.NLLLoss()
        doc_vectors, targets = torch.randn(16, 50) * 10, torch.randint(0, 5, (16,))
        for step in range(5):
            y_pred = torch.log(F.softmax(doc_head(doc_vectors), dim=1))
            loss = criterion(y_pred, targets)
        """,
    ),
]

SILENT += [
    Case(
        "stars-ctc-on-raw-frame-logits",
        "https://github.com/gwx314/STARS/issues/9",
        ("ctc-format", "input-not-logprob"),
        ("log_softmax",),
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        ph_head = nn.Linear(32, 20)
        ph_frame_logits = ph_head(torch.randn(40, 2, 32))          # (T, N, C) raw scores
        ph_targets = torch.randint(1, 20, (2, 10))
        ph_ctc_loss = F.ctc_loss(ph_frame_logits, ph_targets, torch.full((2,), 40), torch.full((2,), 10),
                                 zero_infinity=True)
        """,
    ),
    Case(
        "all-labels-ignore-index-mean-is-nan",
        "https://github.com/pytorch/pytorch/issues/116349",
        ("nan-inf", "empty-input"),
        None,
        """
        %%losscheck
        import torch
        from torch.nn import CrossEntropyLoss
        torch.manual_seed(42)
        loss_fct = CrossEntropyLoss(reduction="mean")
        logits = torch.randn(1, 5, 10, requires_grad=True)
        labels = torch.tensor([[-100, -100, -100, -100, -100]])    # a sample whose tokens are all masked
        nll_loss_mean = loss_fct(logits.view(-1, logits.size(-1)), labels.view(-1))
        """,
    ),
    Case(
        "soundstorm-random-mask-selects-nothing",
        "https://github.com/lucidrains/soundstorm-pytorch/issues/36",
        "empty-input",
        None,
        """
        %%losscheck
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        logits = torch.randn(2, 16, 32, requires_grad=True)        # (batch, seq, codebook)
        target = torch.randint(0, 32, (2, 16))
        mask = torch.rand(2, 16) < 0.0                              # the random mask came out empty
        loss = F.cross_entropy(logits[mask], target[mask])
        """,
    ),
    Case(
        "dgai-text-generation-seq-len-equals-vocab",
        "https://github.com/markhliu/DGAI/issues/7",
        "class-dim",
        ("transpose(1, 2)", "permute(0, 2, 1)", "transpose(2, 1)"),
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        vocab, seq_len = 12, 12                                      # tiny vocabulary, windows of 12 tokens
        emb, lstm, fc = nn.Embedding(vocab, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, vocab)
        loss_func = nn.CrossEntropyLoss()
        for step in range(5):
            inputs = torch.randint(0, vocab, (4, seq_len))
            targets = torch.randint(0, vocab, (4, seq_len))
            output = fc(lstm(emb(inputs))[0])                        # (batch, seq_len, vocab)
            loss = loss_func(output, targets)                        # no error: seq_len == vocab
        """,
    ),
]

SILENT_CORRECT: list[Case] = [
    Case(
        "ok-flair-one-hot-float-targets-are-probabilities",
        "https://github.com/IGNF/FLAIR-1/issues/9",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        seg = nn.Conv2d(3, 13, 1)
        targets = F.one_hot(torch.randint(0, 13, (2, 8, 8)), 13).permute(0, 3, 1, 2).float()
        for step in range(3):
            loss = nn.CrossEntropyLoss()(seg(torch.rand(2, 3, 8, 8)), targets)
        """,
    ),
    Case(
        "ok-vit-distillation-kl-div-batchmean",
        "https://github.com/lucidrains/vit-pytorch/issues/289",
        "", None,
        """
        %%losscheck
        import torch, torch.nn.functional as F
        torch.manual_seed(0)
        T = 3.0
        distill_logits = torch.randn(8, 10, requires_grad=True)
        teacher_logits = torch.randn(8, 10)
        distill_loss = F.kl_div(F.log_softmax(distill_logits / T, dim=-1),
                                F.softmax(teacher_logits / T, dim=-1).detach(), reduction="batchmean")
        distill_loss.backward()
        """,
    ),
    Case(
        "ok-token-classification-ignore-index-minus100",
        "https://github.com/huggingface/transformers/issues/10051",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        num_labels = 9
        classifier = nn.Linear(16, num_labels)
        labels = torch.randint(0, num_labels, (4, 12))
        labels[:, 8:] = -100
        for step in range(3):
            logits = classifier(torch.randn(4, 12, 16))
            loss = nn.CrossEntropyLoss()(logits.view(-1, num_labels), labels.view(-1))
        """,
    ),
    Case(
        "ok-multilabel-bcewithlogits-pos-weight",
        "https://github.com/wenliangdai/Modality-Transferable-MER/issues/3",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        head = nn.Linear(40, 6)
        labels = (torch.rand(16, 6) > 0.6).float()
        criterion = nn.BCEWithLogitsLoss(pos_weight=torch.full((6,), 2.0))
        for step in range(3):
            loss = criterion(head(torch.randn(16, 40)), labels)
        """,
    ),
    Case(
        "ok-crnn-ctc-t-n-c-log-softmax",
        "https://github.com/Sierkinhane/CRNN_Chinese_Characters_Rec/issues/304",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        rnn_out = nn.Linear(32, 37)
        criterion = nn.CTCLoss(blank=0, zero_infinity=True)
        for step in range(3):
            preds = rnn_out(torch.randn(26, 3, 32)).log_softmax(2)
            text = torch.randint(1, 37, (3, 5))
            preds_size = torch.full((3,), 26, dtype=torch.long)
            loss = criterion(preds, text, preds_size, torch.full((3,), 5, dtype=torch.long))
        """,
    ),
    Case(
        "ok-fcn-log-softmax-in-forward-nll-2d",
        "https://github.com/pytorch/pytorch/issues/6166",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)

        class FCN(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 4, 1)

            def forward(self, x):
                return F.log_softmax(self.conv(x), dim=1)

        model = FCN()
        for step in range(3):
            loss = nn.NLLLoss()(model(torch.rand(2, 3, 8, 8)), torch.randint(0, 4, (2, 8, 8)))
        """,
    ),
    Case(
        "ok-regression-mse-reshaped-target",
        "https://github.com/pytorch/pytorch/issues/16045",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        x = torch.randn(100, 2)
        y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + torch.randn(100)
        model = nn.Linear(2, 1)
        for epoch in range(5):
            loss_val = nn.MSELoss()(model(x), y.reshape(-1, 1))
        """,
    ),
    Case(
        "ok-bert-pytorch-nll-on-transposed-log-probs",
        "https://github.com/codertimo/BERT-pytorch/issues/35",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        mask_lm = nn.Sequential(nn.Linear(16, 40), nn.LogSoftmax(dim=-1))
        criterion = nn.NLLLoss(ignore_index=0)
        for step in range(3):
            mask_lm_output = mask_lm(torch.randn(2, 12, 16))
            bert_label = torch.randint(0, 40, (2, 12))
            mask_loss = criterion(mask_lm_output.transpose(1, 2), bert_label)
        """,
    ),
    Case(
        "ok-label-smoothing-class-weights",
        "https://github.com/tsunghan-wu/RandLA-Net-pytorch/issues/26",
        "", None,
        """
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        weights = torch.rand(19) + 0.5
        criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.1)
        for step in range(3):
            loss = criterion(torch.randn(100, 19), torch.randint(0, 19, (100,)))
        """,
    ),
]


# --------------------------------------------------------------------------------------------------
# Known gaps: what nllhint shows today instead of the expected hint (strict: a fix makes it XPASS).
# --------------------------------------------------------------------------------------------------
XFAIL: dict[str, str] = {
}


def _params(cases: list[Case]):
    for case in cases:
        marks = [pytest.mark.xfail(reason=XFAIL[case.id], strict=True)] if case.id in XFAIL else []
        yield pytest.param(case, id=case.id, marks=marks)


def _run(ipython, case: Case):
    """Run ``case`` in a fresh namespace (each report is its own notebook), after its setup cell if any."""
    ipython.fresh_namespace()
    if case.setup:
        first = ipython.run(case.setup)
        assert first.success, first.out
    return ipython.run(case.cell)


@pytest.mark.parametrize("case", list(_params(FAILING)))
def test_real_world_mistake(ipython, case: Case):
    run = _run(ipython, case)
    assert not run.success, "the cell should fail"
    assert "\nnllhint " in run.out, "no hint shown"
    hint = run.out[run.out.index("\nnllhint ") + 1:]  # the traceback above echoes the user's code: skip it
    categories = _any(case.category)
    assert any(f"[{slug}]" in hint for slug in categories), f"expected category {categories}"
    if case.fix is not None:
        fixes = _any(case.fix)
        assert any(key in hint for key in fixes), f"expected a fix containing one of {fixes}"
    for text in case.forbid:
        assert text not in hint, f"the hint shows {text!r}, which belongs to another cell's model"


@pytest.mark.parametrize("case", list(_params(CORRECT)))
def test_real_world_correct_code(ipython, case: Case):
    run = _run(ipython, case)
    if case.id in CORRECT_RUNS_CLEAN:
        assert run.success, run.out
    else:
        assert not run.success, "the cell should fail for an unrelated reason"
    assert "nllhint" not in run.out


@pytest.mark.parametrize("case", list(_params(SILENT)))
def test_real_world_silent_mistake(ipython, case: Case):
    run = _run(ipython, case)
    assert run.success, run.out
    categories = _any(case.category)
    assert any(f"[{slug}]" in run.out for slug in categories), f"expected category {categories}"
    if case.fix is not None:
        fixes = _any(case.fix)
        assert any(key in run.out for key in fixes), f"expected a fix containing one of {fixes}"


@pytest.mark.parametrize("case", list(_params(SILENT_CORRECT)))
def test_real_world_silent_correct_code(ipython, case: Case):
    run = _run(ipython, case)
    assert run.success, run.out
    assert "no problems found" in run.out, run.out


def test_case_ids_are_unique():
    ids = [c.id for c in FAILING + CORRECT + SILENT + SILENT_CORRECT]
    assert len(ids) == len(set(ids))
    assert set(XFAIL) <= set(ids)

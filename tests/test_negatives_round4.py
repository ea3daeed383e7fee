"""Round 4: fix lines of true positives that must run as printed (each is executed after the hint)."""


def test_patch_map_against_n_by_1_labels_offers_a_mean_that_keeps_the_labels_shape(ipython):
    run = ipython.run("""
    import torch, torch.nn as nn
    torch.manual_seed(0)
    D = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 1, 1))
    real = torch.randn(4, 3, 16, 16)
    valid = torch.ones(4, 1)
    loss = nn.BCEWithLogitsLoss()(D(real), valid)
    """)
    assert not run.success and "NLH542" in run.out
    line = "loss = nn.BCEWithLogitsLoss()(D(real).flatten(1).mean(1, keepdim=True), valid)"
    assert line in run.out, run.out
    again = ipython.run(line + "\nprint(loss.shape)")
    assert again.success and "torch.Size([])" in again.out, again.out
    assert "nllhint" not in again.out


def test_one_class_batch_of_int_labels_into_bce_is_class_ids_not_a_gan_label(ipython):
    # a 2-logit head switched from CrossEntropyLoss to BCELoss; this batch's labels happen to be all 0
    run = ipython.run("""
        import torch, torch.nn as nn
        fc = nn.Linear(8, 2)
        criterion = nn.BCELoss()
        outputs = fc(torch.randn(4, 8))
        labels = torch.tensor([0, 0, 0, 0])
        loss = criterion(outputs, labels)
    """)
    assert "NLH543" not in run.out and "zeros_like" not in run.out
    assert "nllhint NLH311 [shape-mismatch]" in run.out
    assert "(all 0 in this batch)" in run.out
    assert "loss = nn.CrossEntropyLoss()(outputs, labels.long())" in run.out


def test_mask_divided_by_255_by_totensor_gets_the_ids_back(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Conv2d(3, 3, 1)
        loss_fn = nn.CrossEntropyLoss()
        image = torch.randn(2, 3, 16, 16)
        mask = torch.randint(0, 3, (2, 1, 16, 16)).float() / 255.0   # ToTensor() on a PNG mask
        loss = loss_fn(model(image), mask.squeeze(1))
    """)
    assert "nllhint NLH254 [target-dtype]" in run.out
    assert "loss = loss_fn(model(image), (mask.squeeze(1) * 255).round().long())" in run.out
    assert "MSELoss" not in run.out


def test_fractions_that_are_not_pixel_levels_stay_a_regression_reading(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        head = nn.Linear(4, 3)
        x = torch.randn(5, 4)
        score = torch.tensor([0.3, 0.7, 0.25, 0.5, 0.9])
        loss = nn.CrossEntropyLoss()(head(x), score)
    """)
    assert "NLH254" not in run.out
    assert "nllhint NLH252 [wrong-loss]" in run.out
    assert "(`head(x)` has 3 class scores now)" in " ".join(run.out.split())


def test_nan_from_the_first_call_points_at_the_data(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 1))
        features = torch.randn(16, 5)
        features[3, 2] = float('nan')            # a missing value in the CSV
        labels = torch.randn(16, 1)
        loss = nn.MSELoss()(net(features), labels)
    """)
    assert "error NLH902" in run.out
    assert "fix: torch.isnan(features).any(dim=-1).nonzero()" in run.out

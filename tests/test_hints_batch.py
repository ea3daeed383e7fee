"""batch-mismatch and shape-mismatch hints, as a user meets them in a notebook."""

CIFAR_NET = '''
    import torch, torch.nn as nn, torch.nn.functional as F

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5, 120)
            self.fc2 = nn.Linear(120, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = x.view(-1, 16 * 5)
            x = F.relu(self.fc1(x))
            return self.fc2(x)

    net = Net()
    criterion = nn.CrossEntropyLoss()
    inputs, labels = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
'''


def test_view_with_wrong_width_names_the_line_in_forward(ipython):
    run = ipython.run(CIFAR_NET + '''
    outputs = net(inputs)
    loss = criterion(outputs, labels)
    ''')
    assert not run.success
    assert "Expected input batch_size (20) to match target batch_size (4)" in run.out
    assert "NLH301" in run.out and "5 rows of each" in run.out
    assert "x.view(-1, 16 * 5)" in run.out and "Net.forward, line 15" in run.out
    assert "x.view(x.size(0), -1)" in run.out and "x.flatten(1)" in run.out
    assert "nn.Linear(400, ...)" in run.out  # 16 * 5 * 5 features per sample


def test_view_with_wrong_width_without_grad_reads_the_forward(ipython):
    run = ipython.run(CIFAR_NET + '''
    with torch.no_grad():
        loss = criterion(net(inputs), labels)
    ''')
    assert not run.success
    assert "NLH301" in run.out and "Net.forward, line 15" in run.out and "nn.Linear(400, ...)" in run.out


def test_correct_flatten_and_an_unrelated_error_show_no_hint(ipython):
    run = ipython.run(CIFAR_NET.replace("16 * 5,", "16 * 5 * 5,").replace("-1, 16 * 5)", "-1, 16 * 5 * 5)").replace(
        "x.view(-1, 16 * 5 * 5)", "x.flatten(1)") + '''
    loss = criterion(net(inputs), labels)
    loss.backward()
    print(accuracy)
    ''')
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out


def test_error_in_the_forward_is_not_a_loss_error(ipython):
    run = ipython.run(CIFAR_NET.replace("nn.Linear(16 * 5, 120)", "nn.Linear(16 * 5 * 5, 120)") + '''
    loss = criterion(net(inputs), labels)
    ''')
    assert not run.success and "mat1 and mat2 shapes cannot be multiplied" in run.out
    assert "nllhint" not in run.out


def test_sequence_scores_flattened_but_labels_not(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        emb, lstm, head = nn.Embedding(100, 8), nn.LSTM(8, 16, batch_first=True), nn.Linear(16, 6)
        tokens = torch.randint(0, 100, (4, 9))
        tags = torch.randint(0, 6, (4, 9))
        out, _ = lstm(emb(tokens))
        logits = head(out).view(-1, 6)
        loss = nn.CrossEntropyLoss()(logits, tags)
    ''')
    assert not run.success
    assert "NLH302" in run.out
    assert "loss = nn.CrossEntropyLoss()(logits, tags.reshape(-1))" in run.out


def test_time_first_output_flattened_needs_transposed_labels(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        rnn, head = nn.GRU(8, 16), nn.Linear(16, 6)
        x = torch.randn(9, 4, 8)            # (T, N, features)
        tags = torch.randint(0, 6, (4, 9))  # (N, T)
        out, _ = rnn(x)
        loss = nn.CrossEntropyLoss()(head(out).view(-1, 6), tags)
    ''')
    assert not run.success
    assert "NLH302" in run.out and "tags.transpose(0, 1).reshape(-1)" in run.out


def test_labels_flattened_but_scores_not(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        scores = torch.randn(4, 9, 6, requires_grad=True)   # (N, T, C) from a transformer
        tags = torch.randint(0, 6, (4, 9)).view(-1)
        loss = F.cross_entropy(scores, tags)
    ''')
    assert not run.success
    assert "NLH302" in run.out
    assert "F.cross_entropy(scores.reshape(-1, scores.size(-1)), tags)" in run.out


def test_labels_of_the_whole_set_against_one_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(20, 3)
        X, y = torch.randn(100, 20), torch.randint(0, 3, (100,))
        xb = X[:32]
        loss = nn.CrossEntropyLoss()(model(xb), y)
    ''')
    assert not run.success
    assert "NLH303" in run.out and "`model(xb)` has 32 samples but `y` has 100" in run.out
    assert "NLH301" not in run.out


def test_fixed_batch_size_in_the_model_fails_on_the_last_batch(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        from torch.utils.data import DataLoader, TensorDataset
        batch_size = 32

        class Tagger(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.GRU(5, 8, batch_first=True)
                self.fc = nn.Linear(8, 3)
                self.h0 = torch.zeros(1, batch_size, 8)
            def forward(self, x):
                out, h = self.rnn(x, self.h0[:, : x.size(0)])
                return self.fc(h[-1]).repeat(batch_size // x.size(0) + 1, 1)[:batch_size]

        data = TensorDataset(torch.randn(100, 7, 5), torch.randint(0, 3, (100,)))
        train_loader = DataLoader(data, batch_size=batch_size)
        model = Tagger()
        for xb, yb in train_loader:
            loss = nn.CrossEntropyLoss()(model(xb), yb)
    ''')
    assert not run.success
    assert "NLH303" in run.out and "last batch of `train_loader`" in run.out
    assert "drop_last=True" in run.out and "holds 4" in run.out


def test_bce_with_logits_on_one_output_unit(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
        criterion = nn.BCEWithLogitsLoss()
        x, y = torch.randn(16, 10), torch.randint(0, 2, (16,))
        loss = criterion(model(x), y)
    ''')
    assert not run.success
    assert "Target size (torch.Size([16])) must be the same as input size (torch.Size([16, 1]))" in run.out
    assert "NLH310" in run.out and "loss = criterion(model(x).squeeze(1), y.float())" in run.out


def test_bce_target_with_the_extra_dimension(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        probs = torch.rand(8)
        target = torch.randint(0, 2, (8,)).float().unsqueeze(1)
        loss = nn.BCELoss()(probs, target)
    ''')
    assert not run.success
    assert "NLH310" in run.out and "loss = nn.BCELoss()(probs, target.squeeze(1))" in run.out


def test_class_indices_for_bce_with_logits(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        logits = torch.randn(8, 4, requires_grad=True)
        labels = torch.tensor([0, 3, 1, 2, 2, 0, 1, 3])
        loss = nn.BCEWithLogitsLoss()(logits, labels.float())
    ''')
    assert not run.success
    assert "NLH311" in run.out and "loss = nn.CrossEntropyLoss()(logits, labels.long())" in run.out


def test_mse_with_a_different_number_of_outputs(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Linear(32, 3))
        x, y = torch.randn(16, 6), torch.randn(16, 2)
        loss = nn.MSELoss()(model(x), y)
    ''')
    assert not run.success
    assert "The size of tensor a (3) must match the size of tensor b (2)" in run.out
    assert "NLH312" in run.out and "model[2] = nn.Linear(model[2].in_features, 2)" in run.out


def test_channels_last_target_for_l1(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred = torch.randn(2, 3, 8, 8)
        image = torch.rand(2, 8, 8, 3)
        loss = F.l1_loss(pred, image)
    ''')
    assert not run.success
    assert "NLH313" in run.out and "loss = F.l1_loss(pred, image.permute(0, 3, 1, 2))" in run.out


def test_mse_with_different_sample_counts(ipython):
    run = ipython.run('''
        import torch, torch.nn.functional as F
        pred, target = torch.randn(16), torch.randn(12)
        loss = F.mse_loss(pred, target)
    ''')
    assert not run.success
    assert "NLH303" in run.out and "`pred` has 16 samples but `target` has 12" in run.out


def test_correct_multi_label_bce_and_an_unrelated_error_show_no_hint(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(10, 5)
        x, tags = torch.randn(16, 10), torch.randint(0, 2, (16, 5)).float()
        loss = nn.BCEWithLogitsLoss(pos_weight=torch.full((5,), 2.0))(model(x), tags)
        loss.backward()
        metrics = {}
        print(metrics["f1"])
    ''')
    assert not run.success and "KeyError" in run.out
    assert "nllhint" not in run.out


def test_regression_shape_error_outside_a_loss_shows_no_hint(ipython):
    run = ipython.run('''
        import torch
        pred, target = torch.randn(16, 3), torch.randn(16, 2)
        err = (pred - target).abs().mean()
    ''')
    assert not run.success and "must match the size of tensor b" in run.out
    assert "nllhint" not in run.out


def test_batch_size_passed_as_a_constant(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        class PointNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(12, 4)
            def forward(self, pts, batch_size):
                return self.fc(pts.reshape(batch_size, -1, 12).mean(1))
        model, batch_size = PointNet(), 8
        pts, labels = torch.randn(2, 24, 12), torch.randint(0, 4, (2,))   # the last, smaller batch
        logits = model(pts, batch_size)
        loss = nn.functional.cross_entropy(logits, labels)
    ''')
    assert not run.success
    assert "NLH301" in run.out and "logits = model(pts, pts.shape[0])" in run.out


def test_cat_along_the_batch_dimension(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        class Fusion(nn.Module):
            def __init__(self):
                super().__init__()
                self.image, self.text = nn.Linear(6, 4), nn.Linear(9, 4)
                self.head = nn.Linear(4, 2)
            def forward(self, img, txt):
                both = torch.cat((self.image(img), self.text(txt)), dim=0)
                return self.head(both)
        net = Fusion()
        y = torch.randint(0, 2, (5,))
        loss = nn.CrossEntropyLoss()(net(torch.randn(5, 6), torch.randn(5, 9)), y)
    ''')
    assert not run.success
    assert "NLH304" in run.out and "torch.cat((self.image(img), self.text(txt)), dim=1)" in run.out
    assert "nn.Linear(8, ...)" in run.out


def test_a_model_from_an_earlier_cell_is_not_blamed(ipython):
    first = ipython.run(CIFAR_NET)
    assert first.success
    run = ipython.run('''
        model = nn.Linear(20, 3)
        x, y = torch.randn(8, 20), torch.randint(0, 3, (16,))
        loss = nn.CrossEntropyLoss()(model(x), y)
    ''')
    assert not run.success and "NLH303" in run.out
    assert "Net.forward" not in run.out and "NLH301" not in run.out


def test_decoder_output_one_step_shorter_than_the_target(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        decoder, proj = nn.GRU(16, 32, batch_first=True), nn.Linear(32, 30)
        captions = torch.randint(1, 30, (4, 9))
        out, _ = decoder(torch.randn(4, 8, 16))        # fed captions[:, :-1]
        scores = proj(out)
        loss = nn.CrossEntropyLoss(ignore_index=0)(scores.reshape(-1, 30), captions.reshape(-1))
    ''')
    assert not run.success
    assert "NLH305" in run.out and "captions[:, 1:].reshape(-1)" in run.out


def test_labels_built_with_the_batch_size_instead_of_the_length(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        token_logits = nn.Linear(16, 5)(torch.randn(1, 12, 16))
        input_ids = torch.randint(0, 100, (1, 12))
        labels = torch.zeros(input_ids.size(0), dtype=torch.long).unsqueeze(0)
        loss = nn.CrossEntropyLoss()(token_logits.view(-1, 5), labels.view(-1))
    ''')
    assert not run.success
    assert "NLH305" in run.out and "torch.zeros(input_ids.size(1), dtype=torch.long)" in run.out


def test_probabilities_with_class_indices_keep_bce_with_one_hot(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        scores = torch.sigmoid(nn.Linear(10, 3)(torch.randn(6, 10)))
        labels = torch.tensor([0, 2, 1, 1, 0, 2])
        loss = nn.BCELoss()(scores, labels.float())
    ''')
    assert not run.success
    assert "NLH311" in run.out and "F.one_hot(labels.long(), num_classes=3).float()" in run.out


def test_raw_scores_with_class_indices_for_bceloss_suggest_cross_entropy(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        model = nn.Linear(12, 2)
        criterion = nn.BCELoss()
        outputs = model(torch.randn(4, 12))
        loss = criterion(outputs, torch.tensor([0, 1, 1, 0]))
    ''')
    assert not run.success
    assert "NLH311" in run.out and "nn.CrossEntropyLoss()(outputs, torch.tensor([0, 1, 1, 0]).long())" in run.out
    assert "one_hot(" not in run.out.split("fix")[-1]


def test_mask_saved_as_rgb(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        net = nn.Conv2d(3, 1, 3, padding=1)
        masks = (torch.rand(2, 1, 16, 16) > 0.5).float().repeat(1, 3, 1, 1)
        loss = nn.BCEWithLogitsLoss()(net(torch.rand(2, 3, 16, 16)), masks)
    ''')
    assert not run.success
    assert "NLH314" in run.out and "masks[:, :1]" in run.out
    assert "0/1 mask, same in every channel" in run.out and "multi-hot" not in run.out


def test_segmentation_head_with_too_few_channels(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 5, 1))
        target = F.one_hot(torch.randint(0, 7, (2, 8, 8)), 7).permute(0, 3, 1, 2).float()
        loss = F.binary_cross_entropy_with_logits(model(torch.rand(2, 3, 8, 8)), target)
    ''')
    assert not run.success
    assert "NLH312" in run.out
    assert "model[2] = nn.Conv2d(model[2].in_channels, 7, model[2].kernel_size, padding=model[2].padding)" in run.out


# --- a patch map per image against one label per image (NLH542) -------------------------------------------

DCGAN_D = """
    import torch, torch.nn as nn
    ndf = 8
    netD = nn.Sequential(                       # the 64x64 DCGAN discriminator
        nn.Conv2d(3, ndf, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0), nn.Sigmoid(),
    )
    criterion = nn.BCELoss()
"""


def test_discriminator_fed_larger_images_gives_a_flattened_patch_map(ipython):
    run = ipython.run(DCGAN_D + """
    real_cpu = torch.rand(4, 3, 128, 128)       # image_size changed to 128
    label = torch.full((real_cpu.size(0),), 1.0)
    output = netD(real_cpu).view(-1)
    errD_real = criterion(output, label)
    """)
    assert not run.success
    assert "NLH542" in run.out and "[shape-mismatch]" in run.out
    prose = " ".join(run.out[run.out.index("\nnllhint "):].split())
    assert "`output` holds a 5x5 map per image (4 x 25 = 100 values)" in prose
    assert "(4, 1, 5, 5) into (100,)" in prose and "`real_cpu` is 128x128" in prose
    assert "errD_real = criterion(output, label.repeat_interleave(25))" in run.out
    assert "errD_real = criterion(output.view(label.size(0), -1).mean(1), label)" in run.out
    assert "same batch" not in prose


def test_discriminator_map_squeezed_against_batch_labels(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        D = nn.Sequential(nn.Conv2d(1, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 2, 1), nn.Sigmoid())
        BCE_loss = nn.BCELoss()
        x_ = torch.rand(8, 1, 24, 24)
        y_real_ = torch.ones(8)
        D_result = D(x_).squeeze()
        D_real_loss = BCE_loss(D_result, y_real_)
    """)
    assert "NLH542" in run.out
    prose = " ".join(run.out[run.out.index("\nnllhint "):].split())
    assert "`D_result` is a 6x6 map per image (8, 6, 6)" in prose
    assert "D_real_loss = BCE_loss(D_result, y_real_.view(-1, 1, 1).expand(-1, 6, 6))" in run.out
    assert "D_real_loss = BCE_loss(D_result.mean((1, 2)), y_real_)" in run.out


def test_sequence_outputs_against_one_label_per_sequence_are_not_called_a_patch_map(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        rnn = nn.GRU(4, 6, batch_first=True)
        out, _ = rnn(torch.randn(3, 7, 6 - 2))
        y = torch.ones(3)
        loss = nn.MSELoss()(torch.sigmoid(out), y)
    """)
    assert not run.success
    assert "NLH542" not in run.out and "map per image" not in run.out


def test_no_hint_for_patch_labels_of_the_maps_shape_then_an_unrelated_error(ipython):
    run = ipython.run(DCGAN_D + """
    real_cpu = torch.rand(4, 3, 128, 128)
    output = netD(real_cpu)
    errD_real = criterion(output, torch.ones_like(output))
    errD_real.backward()
    optimizerD.step()
    """)
    assert not run.success and "NameError" in run.out
    assert "nllhint" not in run.out

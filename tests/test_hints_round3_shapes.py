"""Shape and target mistakes from evaluation round 3 (colour masks, PatchGAN labels, [-1, 1] BCE targets,
super-resolution scale factors, an extra output dim), as a notebook user sees them."""


def prose(out: str) -> str:
    """The hint's text on one line (the renderer wraps it)."""
    return " ".join(out[out.index("\nnllhint"):].split())


# --- a segmentation mask that kept its colour channels (N, H, W, 3) --------------------------------------

UNET_HELPERS = """
    import torch, torch.nn as nn
    ce = nn.CrossEntropyLoss()
    def UnetLoss(preds, targets):
        ce_loss = ce(preds, targets)
        acc = (torch.max(preds, 1)[1] == targets).float().mean()
        return ce_loss, acc
    def train_batch(model, data, optimizer, criterion):
        ims, ce_masks = data
        _masks = model(ims)
        optimizer.zero_grad()
        loss, acc = criterion(_masks, ce_masks)
        loss.backward()
        optimizer.step()
        return loss.item(), acc.item()
"""


def test_mask_with_unequal_small_channels_gets_no_guessed_mapping(ipython):
    ipython.run(UNET_HELPERS)
    run = ipython.run("""
        model = nn.Conv2d(3, 12, 3, padding=1)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        ims = torch.randn(4, 3, 32, 32)
        masks = torch.randint(0, 12, (4, 32, 32, 3))   # mask PNG read with its 3 colour channels
        loss, acc = train_batch(model, (ims, masks), optimizer, UnetLoss)
    """)
    assert "only batches of spatial targets supported" in run.out
    assert "nllhint NLH209 [target-shape]" in run.out
    text = prose(run.out)
    assert "`targets` still has its colour channels (4, 32, 32, 3); CrossEntropyLoss expects (4, 32, 32)" in text
    assert "more colours than the 12 classes" in text
    assert "targets[..., 0]" not in run.out  # the channels are not equal: keeping one would be wrong
    assert "torch.unique" not in run.out  # independent channels are no palette: mapping colours gives >12 ids
    assert "fix" not in run.out.split("nllhint NLH209")[1]


def test_grey_mask_saved_as_rgb_keeps_one_channel(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Conv2d(3, 5, 3, padding=1)
        images = torch.rand(2, 3, 16, 16)
        mask = torch.randint(0, 5, (2, 16, 16, 1), dtype=torch.uint8).repeat(1, 1, 1, 3)   # cv2.imread
        loss = nn.CrossEntropyLoss()(net(images), mask)
    """)
    assert "NLH209" in run.out
    text = prose(run.out)
    assert "In the 64 pixels checked its channels are equal" in text
    assert "loss = nn.CrossEntropyLoss()(net(images), mask[..., 0])" in run.out
    assert "torch.unique" not in run.out


def test_float_rgba_mask_with_equal_channels_gets_one_channel_as_long(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 4, 8, 8, requires_grad=True)
        seg = torch.randint(0, 4, (2, 8, 8, 1)).float().expand(-1, -1, -1, 4)
        loss = F.cross_entropy(logits, seg)
    """)
    assert "NLH209" in run.out and "RGBA" in run.out
    assert "loss = F.cross_entropy(logits, seg[..., 0].long())" in run.out


def test_colour_mask_expression_not_read_gives_both_ways(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        logits = torch.randn(2, 6, 8, 8)
        raw = torch.randint(0, 6, (2, 8, 8, 3))
        loss = F.cross_entropy(logits, raw.long() % 6)
    """)
    assert "NLH209" in run.out
    assert "# if the 3 channels are equal (a grey mask saved as RGB):" in run.out
    assert "loss = F.cross_entropy(logits, (raw.long() % 6)[..., 0])" in run.out
    assert "mask = raw.long() % 6" in run.out and "loss = F.cross_entropy(logits, mask_idx)" in run.out


def test_mask_with_a_size_one_channel_still_gets_squeeze(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        logits = torch.randn(2, 5, 16, 16, requires_grad=True)
        masks = torch.randint(0, 5, (2, 16, 16, 1))
        loss = nn.CrossEntropyLoss()(logits, masks)
    """)
    assert "NLH203" in run.out and "masks.squeeze(-1)" in run.out and "colour" not in run.out


def test_channels_first_small_values_are_not_called_colour_channels(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        logits = torch.randn(2, 12, 8, 8)
        labels = torch.randint(0, 12, (2, 3, 8, 8))
        loss = nn.CrossEntropyLoss()(logits, labels)
    """)
    assert not run.success
    assert "colour channels" not in run.out


def test_correct_segmentation_mask_is_silent(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Conv2d(3, 5, 3, padding=1)
        mask = torch.randint(0, 5, (2, 16, 16, 3))[..., 0]
        loss = nn.CrossEntropyLoss()(net(torch.rand(2, 3, 16, 16)), mask)
    """)
    assert run.success and "nllhint" not in run.out


# --- a constant real/fake label per image against a PatchGAN's scores ------------------------------------

def test_patch_discriminator_flattened_scores_against_torch_ones(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        class PatchD(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(1, 1, 4, stride=2, padding=1)
            def forward(self, x):
                return torch.sigmoid(self.conv(x)).view(x.size(0), -1)
        D_A = PatchD()
        bce = nn.BCELoss()
        x_A = torch.rand(4, 1, 26, 26)
        real_tensor = torch.ones(4)
        l_d_A_real = bce(D_A(x_A).squeeze(1), real_tensor)
    """)
    assert "NLH543 [shape-mismatch]" in run.out
    text = prose(run.out)
    assert "holds a 13x13 map of scores per sample" in text and "the same for all (1)" in text
    assert "out = D_A(x_A).squeeze(1)\n    l_d_A_real = bce(out, torch.ones_like(out))" in run.out


def test_lsgan_patch_scores_against_a_smoothed_label(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        netD = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 1, 1), nn.Flatten())
        mse = nn.MSELoss()
        real = torch.rand(8, 3, 32, 32)
        pred_real = netD(real)
        target_real = torch.full((8,), 0.9)
        loss_D = mse(pred_real, target_real)
    """)
    assert "NLH543" in run.out
    assert "loss_D = mse(pred_real, torch.full_like(pred_real, 0.9))" in run.out


def test_fake_label_zeros_against_an_unflattened_patch_map(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        D = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 1, 4, 2, 1))
        fake = torch.rand(4, 3, 32, 32)
        d_fake = D(fake)
        loss = nn.BCEWithLogitsLoss()(d_fake, torch.zeros(4))
    """)
    assert "NLH542" in run.out  # the patch-map rule explains the map; its first fix is the constant label
    assert "loss = nn.BCEWithLogitsLoss()(d_fake, torch.zeros_like(d_fake))" in run.out


def test_labels_read_from_data_are_not_replaced_by_a_constant(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model = nn.Linear(10, 5)
        x = torch.randn(6, 10)
        y = torch.tensor([1., 0., 1., 1., 0., 1.])
        loss = nn.BCEWithLogitsLoss()(model(x), y)
    """)
    assert not run.success
    assert "NLH543" not in run.out and "ones_like" not in run.out


def test_real_and_fake_scored_together_against_ones_get_no_constant_fix(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        D = nn.Sequential(nn.Linear(16, 1), nn.Sigmoid())
        real, fake = torch.randn(4, 16), torch.randn(4, 16)
        out = D(torch.cat([real, fake]))
        loss = nn.BCELoss()(out, torch.ones(4))
    """)
    assert not run.success
    assert "ones_like" not in run.out and "NLH543" not in run.out


def test_sequence_features_against_a_constant_are_not_called_patch_scores(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        rnn = nn.GRU(4, 6, batch_first=True)
        out, _ = rnn(torch.randn(3, 7, 4))
        loss = nn.MSELoss()(torch.sigmoid(out), torch.ones(3))
    """)
    assert not run.success
    assert "NLH543" not in run.out and "ones_like" not in run.out


# --- BCE targets normalised to [-1, 1] ----------------------------------------------------------------------

def test_vae_reconstruction_target_normalised_to_minus_one_one(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        class VAE(nn.Module):
            def __init__(self):
                super().__init__()
                self.enc = nn.Linear(3 * 8 * 8, 2 * 16)
                self.dec = nn.Linear(16, 3 * 8 * 8)
            def forward(self, x):
                mu, log_var = self.enc(x.flatten(1)).chunk(2, dim=1)
                z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
                return torch.sigmoid(self.dec(z)).view_as(x), mu, log_var
            def step(self, batch):
                x, _ = batch
                x_hat, mu, log_var = self(x)
                recon_loss = F.binary_cross_entropy(x_hat, x, reduction='mean')
                kl = -0.5 * torch.mean(1 + log_var - mu.pow(2) - log_var.exp())
                return recon_loss + kl
        imgs = torch.rand(8, 3, 8, 8)
        imgs = (imgs - 0.5) / 0.5          # transforms.Normalize(mean=0.5, std=0.5)
        loss = VAE().step((imgs, torch.zeros(8)))
    """)
    assert "NLH523 [bce-range]" in run.out
    text = prose(run.out)
    assert "`x` holds images normalised to [-1, 1]" in text
    assert "recon_loss = F.binary_cross_entropy(x_hat, (x + 1) / 2, reduction='mean')" in run.out
    assert "logits" not in text
    assert "normalised images in [-" in text  # the evidence line of the target


def test_bce_targets_far_outside_minus_one_one_keep_the_regression_advice(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        probs = torch.rand(6)
        scores = torch.tensor([-4.0, 1.7, 2.25, 0.1, 3.8, -2.0])
        loss = nn.BCELoss()(probs, scores)
    """)
    assert "NLH523" in run.out and "MSELoss" in run.out
    assert "+ 1) / 2" not in run.out and "normalised" not in run.out


# --- super-resolution: model and labels made for other scale factors ------------------------------------

ESPCN = """
    import torch, torch.nn as nn
    class ESPCN(nn.Module):
        def __init__(self, scale_factor):
            super().__init__()
            self.conv = nn.Conv2d(1, scale_factor ** 2, 3, padding=1)
            self.ps = nn.PixelShuffle(scale_factor)
        def forward(self, x):
            return self.ps(self.conv(x))
"""


def test_super_resolution_scale_factor_differs_from_the_labels(ipython):
    run = ipython.run(ESPCN + """
    model = ESPCN(scale_factor=2)
    criterion = nn.MSELoss()
    inputs = torch.rand(16, 1, 17, 17)
    labels = torch.rand(16, 1, 51, 51)      # training file prepared for x3
    preds = model(inputs)
    loss = criterion(preds, labels)
    """)
    assert "NLH313" in run.out
    text = prose(run.out)
    assert "`preds` is `inputs` (17x17) scaled x2, but `labels` is x3 of it" in text
    assert "model.ps (nn.PixelShuffle) scales by 2" in text
    assert "model = ESPCN(scale_factor=3)   # line 10:" in run.out


def test_super_resolution_model_built_in_an_earlier_cell_names_its_layer(ipython):
    ipython.run(ESPCN + """
    model = ESPCN(scale_factor=4)
    """)
    run = ipython.run("""
        lr = torch.rand(2, 1, 10, 10)
        hr = torch.rand(2, 1, 20, 20)
        loss = nn.L1Loss()(model(lr), hr)
    """)
    text = prose(run.out)
    assert "`model(lr)` is `lr` (10x10) scaled x4, but `hr` is x2 of it" in text
    assert "model.ps (nn.PixelShuffle) scales by 4" in text


def test_unpadded_convolution_output_two_pixels_smaller(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Conv2d(3, 3, 3)
        img = torch.rand(2, 3, 32, 32)
        loss = nn.MSELoss()(net(img), img)
    """)
    assert "NLH313" in run.out
    assert "is 2 smaller in each, as convolutions without padding give" in prose(run.out)


def test_channels_last_target_still_gets_permute(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F
        pred = torch.randn(4, 3, 8, 8)
        depth = torch.randn(4, 8, 8, 3)
        loss = F.l1_loss(pred, depth)
    """)
    assert "F.l1_loss(pred, depth.permute(0, 3, 1, 2))" in run.out
    assert "scale" not in prose(run.out)


# --- an extra output dim broadcast against one target per sample (NLH901) --------------------------------

PROTEIN = """
    import torch, torch.nn as nn, torch.nn.functional as F
    class ProteinRegressor(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(20, 16, 3, padding=1)
            self.head = nn.Linear(16, 1)
        def forward(self, x):
            h = F.relu(self.conv(x))
            h = F.adaptive_max_pool1d(h, 3)          # (batch, 16, 3)
            return self.head(h.transpose(1, 2))      # (batch, 3, 1)
    model = ProteinRegressor()
    x = torch.randn(66, 20, 30)
    y = torch.randn(66)
    score = model(x)
    loss = F.mse_loss(score, y)
"""


def test_extra_output_dim_names_the_values_per_sample(ipython):
    run = ipython.run(PROTEIN)
    assert run.success and "NLH901" in run.out
    text = " ".join(run.out.split())
    assert "`score.squeeze(-1)` is (66, 3): 3 predictions per sample where `y` has 1" in text
    assert "make the model output one value per sample (66,), or give `y` 3 values per sample (66, 3)" in text


def test_extra_output_dim_under_losscheck(ipython):
    run = ipython.run("%%losscheck\n" + PROTEIN.replace("\n    ", "\n"))
    assert "error NLH901 [shape-mismatch]" in run.out
    assert "3 predictions per sample" in " ".join(run.out.split())


def test_column_predictions_still_get_the_squeeze_line(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(8, 1)
        x, y = torch.randn(32, 8), torch.randn(32)
        pred = model(x)
        loss = F.mse_loss(pred, y)
    """)
    assert "loss = F.mse_loss(pred.squeeze(1), y)" in run.out and "predictions per sample" not in run.out


def test_matching_regression_shapes_are_silent(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(8, 3)
        x, y = torch.randn(32, 8), torch.randn(32, 3)
        loss = F.mse_loss(model(x), y)
    """)
    assert run.success and "NLH9" not in run.out


# --- class ids regressed from one output (info, %%losscheck only) -----------------------------------------

CLASS_IDS = """
    import torch, torch.nn as nn
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
    criterion = nn.MSELoss()
    x = torch.randn(16, 12)
    cls = torch.randint(0, 5, (16, 1)).float()    # class ids 0..4 regressed as numbers
    loss = criterion(model(x), cls)
"""


def test_class_ids_regressed_get_an_info_note_under_losscheck(ipython):
    run = ipython.run("%%losscheck\n" + CLASS_IDS.replace("\n    ", "\n"))
    assert "info NLH849 [wrong-loss]" in run.out and "1 note" in run.out
    text = " ".join(run.out.split())
    assert "`cls` looks like class ids 0..4, regressed with MSELoss" in text
    assert "if they are ordered grades, regression is a fair choice" in text
    assert "loss = nn.CrossEntropyLoss()(model(x), cls.view(-1).long())" in run.out


def test_class_ids_regressed_are_silent_in_default_mode(ipython):
    run = ipython.run(CLASS_IDS)
    assert run.success and "nllhint" not in run.out


def test_ratings_and_counts_regressed_are_silent(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 1))
        x = torch.randn(64, 12)
        rating = torch.randint(1, 6, (64, 1)).float()     # 1..5 stars
        counts = torch.randint(0, 5, (64, 1)).float()     # events per day
        y = torch.randint(0, 5, (64, 1)).float()
        loss = F.mse_loss(model(x), rating) + F.l1_loss(model(x), counts) + F.mse_loss(model(x), y)
    """)
    assert run.success and "no problems found" in run.out and "NLH849" not in run.out


def test_super_resolution_labels_at_the_input_size_get_no_model_change(ipython):
    run = ipython.run(ESPCN + """
    model = ESPCN(scale_factor=2)
    lr = torch.rand(2, 1, 10, 10)
    loss = nn.MSELoss()(model(lr), lr)
    """)
    text = prose(run.out)
    assert "`model(lr)` is `lr` (10x10) scaled x2, but `lr` has its size" in text
    assert "scale_factor=1" not in run.out


def test_normalised_images_into_bce_with_logits_get_the_rescaled_target(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        x = (torch.rand(8, 1, 28, 28) - 0.5) / 0.5
        dec = nn.Linear(16, 784)
        logits = dec(torch.randn(8, 16)).view(8, 1, 28, 28)
        loss = F.binary_cross_entropy_with_logits(logits, x)
    """)
    text = " ".join(run.out.split())
    assert "NLH818" in text and "`x` holds images normalised to [-1, 1]" in text
    assert "fix: loss = F.binary_cross_entropy_with_logits(logits, (x + 1) / 2)" in text


def test_real_valued_bce_target_maps_is_not_called_logits(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        heat = torch.sigmoid(torch.randn(2, 4, 8, 8))
        target_maps = torch.rand(2, 4, 8, 8) * 5
        loss = nn.BCELoss()(heat, target_maps)
    """)
    assert "NLH523" in run.out and "MSELoss" in run.out
    evidence = run.out[run.out.index("evidence"):]
    assert "target_maps  float32[2, 4, 8, 8] real values in [" in evidence and "logits" not in evidence


def test_small_valued_colour_palette_is_still_mapped_to_class_ids(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        net = nn.Conv2d(3, 5, 3, padding=1)
        images = torch.rand(2, 3, 16, 16)
        palette = torch.tensor([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
        masks = palette[torch.randint(0, 4, (2, 16, 16))]
        loss = nn.CrossEntropyLoss()(net(images), masks)
    """)
    assert "NLH209" in run.out
    assert "channels differ in the pixels checked" in prose(run.out)
    assert "colours, idx = torch.unique(masks.reshape(-1, 3), dim=0, return_inverse=True)" in run.out

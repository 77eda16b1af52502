"""Checks both training stages share: a short run moves exactly the trainable weights; one batch
can be overfitted."""

import torch


def short_run_moves_only_the_trainable(stage, dataset, out, *, steps, batch_size, label):
    """Train `steps` steps; assert frozen weights are bit-identical and every trainable one moved."""
    from tcan_core.train.trainer import Options, Trainer

    before = {n: p.detach().clone() for n, p in stage.named_parameters()}
    trainable = set(stage.trainable())
    options = Options(out=str(out), steps=steps, batch_size=batch_size, learning_rate=1e-4, save_every=0,
                      validate_every=0, num_workers=0, progress=False)
    summary = Trainer(stage, dataset, None, options, log=lambda *_: None).train()
    print(f"\n{label} (tiny, CPU): {summary['steps_per_s']:.2f} steps/s, "
          f"peak resident {summary['peak_memory_bytes'] / 2**20:.0f} MiB, loss {summary['loss']:.4f}")
    assert summary["steps"] == steps and torch.isfinite(torch.tensor(summary["loss"]))
    for name, p in stage.named_parameters():
        if name in trainable:
            assert not torch.equal(p, before[name]), name
        else:
            assert torch.equal(p, before[name]), name


def overfit_losses(stage, batch, draws, *, learning_rate, steps):
    """Losses of `steps` AdamW steps on one batch with fixed draws (t, noise, latent sample)."""
    optimizer = torch.optim.AdamW(stage.trainable().values(), lr=learning_rate, weight_decay=0)
    losses = []
    for _ in range(steps):
        loss = stage(batch, draws)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def gradients(stage, batch, draws, checkpointing):
    """{name: gradient} of one backward pass, with or without gradient checkpointing."""
    if checkpointing:
        stage.enable_gradient_checkpointing()
    stage.zero_grad()
    stage(batch, draws).backward()
    return {n: p.grad.clone() for n, p in stage.trainable().items() if p.grad is not None}


def assert_checkpointing_changes_nothing(make_stage, batch, draws):
    """Recomputed blocks must see what the forward pass saw (reference tokens, frames per clip)."""
    plain, checkpointed = gradients(make_stage(), batch, draws, False), gradients(make_stage(), batch, draws, True)
    assert plain.keys() == checkpointed.keys() and len(plain) == len(make_stage().trainable())
    for name in plain:
        torch.testing.assert_close(checkpointed[name], plain[name], rtol=1e-4, atol=1e-6, msg=name)

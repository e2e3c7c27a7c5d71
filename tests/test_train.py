"""The training loop learns, repeats itself under a seed, and reports honest numbers."""

import pytest
import torch
from torch import nn

from cnncourse.data import load_mnist, tensor_loader
from cnncourse.train import History, _show_progress, evaluate, fit


@pytest.fixture(scope="module")
def tiny_mnist():
    images, labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    pool = nn.AvgPool2d(4)  # 7x7 digits: a few milliseconds an epoch
    return (pool(images[:512]), labels[:512]), (pool(test_images[:256]), test_labels[:256])


def _model(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(49, 32), nn.ReLU(), nn.Linear(32, 10))


def _loaders(data, seed=0):
    (x, y), (tx, ty) = data
    return tensor_loader(x, y, 32, shuffle=True, seed=seed), tensor_loader(tx, ty, 100)


def test_loss_decreases_and_history_has_one_entry_per_epoch(tiny_mnist):
    train, val = _loaders(tiny_mnist)
    history = fit(_model(), train, val, epochs=5, lr=0.05, progress=False)
    assert isinstance(history, History)
    for series in (history.train_loss, history.train_acc, history.val_loss, history.val_acc,
                   history.seconds):
        assert len(series) == 5
    assert len(history) == 5
    assert history.train_loss[-1] < 0.7 * history.train_loss[0]
    assert history.val_acc[-1] > 0.5  # chance is 0.1
    assert all(0 <= a <= 1 for a in history.train_acc + history.val_acc)
    assert all(s > 0 for s in history.seconds)


def test_same_seed_same_history(tiny_mnist):
    def run(seed):
        train, val = _loaders(tiny_mnist, seed=seed)
        h = fit(_model(), train, val, epochs=2, progress=False, seed=seed)
        return h.train_loss + h.train_acc + h.val_loss + h.val_acc

    first = run(0)
    assert run(0) == first
    assert run(1) != first


def test_seed_controls_shuffling_through_the_global_generator(tiny_mnist):
    (x, y), _ = tiny_mnist
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64,
                                         shuffle=True)  # no generator of its own

    def run(seed):
        return fit(_model(), loader, epochs=1, progress=False, seed=seed).train_loss

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_without_validation_the_val_lists_stay_empty(tiny_mnist):
    train, _ = _loaders(tiny_mnist)
    history = fit(_model(), train, epochs=1, progress=False)
    assert history.val_loss == [] and history.val_acc == []
    assert set(history.as_dict()) == {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"}


def test_evaluate_matches_a_manual_count(tiny_mnist):
    _, (x, y) = tiny_mnist
    model = _model()
    fit(model, _loaders(tiny_mnist)[0], epochs=1, progress=False)
    model.train()
    loss, accuracy = evaluate(model, tensor_loader(x, y, batch_size=30))  # uneven last batch
    assert model.training  # mode restored
    with torch.no_grad():
        model.eval()
        logits = model(x)
    assert accuracy == (logits.argmax(1) == y).sum().item() / len(y)
    assert 0 <= accuracy <= 1
    assert loss == pytest.approx(nn.functional.cross_entropy(logits, y).item(), rel=1e-5)


def test_optimizer_may_be_a_factory_or_an_instance(tiny_mnist):
    train, _ = _loaders(tiny_mnist)
    built = []

    def adam(params):
        built.append(torch.optim.Adam(params, lr=1e-3))
        return built[-1]

    model = _model()
    fit(model, train, epochs=1, optimizer=adam, progress=False)
    assert len(built) == 1 and built[0].state  # it was built once and it stepped
    model = _model()
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.clone() for p in model.parameters()]
    fit(model, train, epochs=1, optimizer=sgd, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_custom_loss_is_used(tiny_mnist):
    train, val = _loaders(tiny_mnist)
    calls = []

    def loss_fn(outputs, labels):
        calls.append(len(labels))
        return nn.functional.cross_entropy(outputs, labels)

    fit(_model(), train, val, epochs=1, loss_fn=loss_fn, progress=False)
    assert sum(calls) == 512 + 256  # every training and validation example, once


def test_progress_bars_can_be_turned_off_and_on(tiny_mnist, capsys, monkeypatch):
    train, _ = _loaders(tiny_mnist)
    fit(_model(), train, epochs=1, progress=False)
    assert capsys.readouterr().err == ""
    fit(_model(), train, epochs=1, progress=True)
    assert "epochs" in capsys.readouterr().err
    monkeypatch.setenv("CNNCOURSE_PROGRESS", "0")
    assert _show_progress(None) is False
    monkeypatch.setenv("CNNCOURSE_PROGRESS", "1")
    assert _show_progress(None) is True
    monkeypatch.delenv("CNNCOURSE_PROGRESS")
    assert _show_progress(None) is False  # pytest's stderr is not a terminal
    assert _show_progress(True) is True


def test_empty_loader_is_refused():
    empty = tensor_loader(torch.zeros(0, 49), torch.zeros(0, dtype=torch.int64))
    with pytest.raises(ValueError, match="no examples"):
        fit(_model(), empty, epochs=1, progress=False)

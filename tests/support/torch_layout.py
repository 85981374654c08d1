"""The PyTorch model in the data layer's parameter layout: (in, out) weights, as the numpy
reference and JAX keep them, where nn.Linear keeps (out, in)."""
import assignment_1TORCH as tt
from mlpbench.model import shared_init


def model_params(model):
    return [{"w": layer.weight.detach().numpy().T, "b": layer.bias.detach().numpy()}
            for layer in model.layers]


def shared_model(seed):
    model = tt.MLP()
    tt.load_shared(model, shared_init(seed))
    return model

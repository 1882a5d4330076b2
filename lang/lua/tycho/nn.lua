-- tycho.nn (the global `nn` at the prompt): layers as Lua objects you can
-- read and change, over tycho's C kernels.
--
--   nn.Module                 the base class (nn/module.lua): parameters,
--                             state_dict, train/eval, printing
--   nn.Linear ... nn.ModuleList   layers (nn/layers.lua)
--   nn.MultiheadAttention, nn.TransformerBlock, nn.PatchEmbed, nn.ViT
--                             (nn/transformer.lua)
--   nn.functional             losses and stateless ops (nn/functional.lua)
--   nn.init                   initialisers (nn/init_fns.lua)
--   nn.functional_call        run a module with weights given from outside
local Module = require("tycho.nn.module")
local layers = require("tycho.nn.layers")
local transformer = require("tycho.nn.transformer")
local tycho = require("tycho")

local nn = {}
nn.Module = Module
nn.functional = require("tycho.nn.functional")
nn.init = require("tycho.nn.init_fns")
for k, v in pairs(layers) do
  if not k:match("^_") then nn[k] = v end
end
for k, v in pairs(transformer) do
  if not k:match("^_") then nn[k] = v end
end

-- Whether v is a module instance.
function nn.is_module(v)
  return Module.is_module(v)
end

-- Runs module(...) with some or all of its parameters replaced by the
-- tensors in params, without changing the module: afterwards (even after
-- an error) it has its own parameters back. Gradients flow into whatever
-- made the given tensors (a hypernetwork, an optimiser's lookahead).
-- params is either {["dotted.name"] = tensor} (names as in
-- named_parameters; names left out keep the module's own tensor) or a list
-- of tensors in the order of m:parameters() / m:param_shapes().
function nn.functional_call(module, params, ...)
  if not Module.is_module(module) then
    error("nn.functional_call: argument 1 must be a module, got " .. type(module), 2)
  end
  if type(params) ~= "table" then
    error("nn.functional_call: argument 2 must be a table of tensors, got " .. type(params), 2)
  end
  -- where each parameter lives: the modules and local names holding it. A
  -- tensor held in several places (tied weights) is one parameter, named by
  -- its first place, as in named_parameters(), and replaced everywhere.
  local owners, names, alias, first = {}, {}, {}, {}
  for prefix_name, m in pairs(module:named_modules()) do
    local p = rawget(m, "_parameters")
    for _, k in ipairs(rawget(m, "_order")) do
      local t = p[k]
      if t ~= nil then
        local full = (prefix_name == "" and "" or prefix_name .. ".") .. tostring(k)
        local name = first[t]
        if name == nil then
          name = full
          first[t] = full
          owners[full] = {}
          names[#names + 1] = full
        end
        table.insert(owners[name], {m, k})
        alias[full] = name
      end
    end
  end
  local given, given_as = {}, {}
  if #params > 0 then
    if #params ~= #names then
      error(string.format("nn.functional_call: %d tensors given for %d parameters of %s", #params,
                          #names, getmetatable(module).__name), 2)
    end
    for i, t in ipairs(params) do given[names[i]] = t end
  else
    for k, t in pairs(params) do
      local name = alias[k]
      if name == nil then
        error(string.format("nn.functional_call: %s has no parameter named '%s'",
                            getmetatable(module).__name, tostring(k)), 2)
      end
      if given[name] ~= nil and not rawequal(given[name], t) then
        error(string.format("nn.functional_call: '%s' and '%s' are one (tied) parameter; give "
                            .. "one tensor for it", given_as[name], tostring(k)), 2)
      end
      given[name], given_as[name] = t, k
    end
  end
  -- check everything before swapping anything
  for name, t in pairs(given) do
    local own = rawget(owners[name][1][1], "_parameters")[owners[name][1][2]]
    if not tycho.is_tensor(t) then
      error(string.format("nn.functional_call: '%s' must be a tensor, got %s", name, type(t)), 2)
    end
    local a, b = t.shape, own.shape
    if not Module._same_shape(a, b) then
      error(string.format("nn.functional_call: '%s' has shape (%s), the module expects (%s)", name,
                          table.concat(a, ", "), table.concat(b, ", ")), 2)
    end
  end
  local saved = {}
  for name, t in pairs(given) do
    for _, place in ipairs(owners[name]) do
      local p = rawget(place[1], "_parameters")
      saved[#saved + 1] = {p, place[2], p[place[2]]}
      p[place[2]] = t
    end
  end
  local results = table.pack(pcall(module.forward, module, ...))
  for i = #saved, 1, -1 do
    local s = saved[i]
    s[1][s[2]] = s[3]
  end
  if not results[1] then error(results[2], 0) end
  return table.unpack(results, 2, results.n)
end

return nn

-- Errors of the Lua front ends (nn, optim, data, ...) point at the user's
-- line, not at the library's: raise() walks up the stack past every frame
-- that belongs to tycho's own Lua files (and C functions) and reports the
-- first frame of user code, as luaL_argerror does for C functions.
local errors = {}

local function is_library(source)
  return source == "=[C]" or source:find("/lua/tycho/", 1, true) ~= nil
end

-- raise(fmt, ...): error(string.format(fmt, ...)) at the caller's level.
function errors.raise(fmt, ...)
  local msg = select("#", ...) > 0 and string.format(fmt, ...) or fmt
  local level = 2
  while true do
    local info = debug.getinfo(level, "S")
    if info == nil then
      level = 0
      break
    end
    if not is_library(info.source) then break end
    level = level + 1
  end
  -- error()'s level counts from error's caller, which is this function (1)
  error(msg, level)
end

return errors

-- Argo CD health check for olympus.io/SchemaUpgrade (argocd-cm key
-- resource.customizations.health.olympus.io_SchemaUpgrade). Lua 5.1 (Argo CD runs gopher-lua).
-- Reads what the schema-upgrade controller writes: status.observedGeneration, phase, message and
-- the kstatus conditions Ready / Reconciling / Stalled. Tested on recorded statuses by
-- tests/integration/deploy/test_health_checks.py.
local hs = {}

local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

local function say(text, fallback)
  if text ~= nil and text ~= "" then
    return text
  end
  return fallback
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the schema-upgrade controller to observe this resource"
  return hs
end
local status = obj.status
local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the controller to observe generation " .. generation
  return hs
end

local stalled = condition(status, "Stalled")
if (stalled ~= nil and stalled.status == "True") or status.phase == "Failed" then
  local why = status.message
  if stalled ~= nil and stalled.status == "True" then
    why = say(stalled.message, why)
  end
  hs.status = "Degraded"
  hs.message = say(why, "Failed")
  return hs
end

local ready = condition(status, "Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = say(status.message, "At " .. say(status.currentVersion, "its target"))
  return hs
end
-- At its target when last observed, the database unreachable now: the upgrade is done and the
-- controller keeps retrying (it turns Stalled, so Degraded, when retries.limit is spent).
if status.phase == "Succeeded" and ready ~= nil and ready.status == "Unknown" then
  hs.status = "Healthy"
  hs.message = say(ready.message, say(status.message, "Succeeded; readiness unknown"))
  return hs
end
-- Waiting for an approval, a maintenance window or (dry run) nothing: paused, not failing.
if status.phase == "Waiting" then
  hs.status = "Suspended"
  hs.message = say(status.message, "Waiting")
  return hs
end

hs.status = "Progressing"
hs.message = say(status.message, say(status.phase, "Reconciling"))
return hs

'use strict';
/*
 * Runs Salesforce Code Analyzer through its core API, the way `sf code-analyzer run` does
 * (forcedotcom/code-analyzer, src/lib/actions/RunAction.ts), without the `sf` plugin.
 *
 * Usage: node code_analyzer.cjs REQUEST.json
 *
 * REQUEST.json: {
 *   "workspace": ["<abs path>", ...],   the files and folders that make up the project
 *   "targets": ["<abs path>", ...] | null,  what to analyse (null: the whole workspace)
 *   "configFile": "<abs path>" | null,  code-analyzer.yml; null: look for code-analyzer.yaml /
 *                                         code-analyzer.yml in the working directory, as the CLI does
 *   "ruleSelectors": ["Recommended"],   the CLI's --rule-selector
 *   "requiredEngines": ["pmd", "regex"], engines that must be available unless the config disables them
 *   "outputFile": "<abs path>"          where the results go, in the core's JSON output format
 * }
 *
 * The results file is written by the core's own formatter (RunResults.toFormattedOutput(JSON)),
 * the same code that writes `sf code-analyzer run --output-file results.json`. The last line on
 * stdout is one JSON object: {"ok": true, ...facts about the run} or {"ok": false, "kind", "message"}.
 * Exit status: 0 ran; 2 the configuration was refused; 3 a required engine is unavailable;
 * 4 the workspace or targets were refused; 1 anything else.
 */
const fs = require('node:fs');
const path = require('node:path');

const EXIT = { config: 2, engine: 3, workspace: 4, internal: 1 };

class RunnerError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind;
  }
}

function finish(status, exitCode) {
  process.stdout.write(`\n${JSON.stringify(status)}\n`);
  process.exitCode = exitCode;
}

function loadConfig(core, request) {
  let configFile = request.configFile;
  if (!configFile) {
    for (const ext of ['yaml', 'yml']) {
      const candidate = path.resolve(`code-analyzer.${ext}`);
      if (fs.existsSync(candidate)) {
        configFile = candidate;
        break;
      }
    }
  }
  try {
    const config = configFile ? core.CodeAnalyzerConfig.fromFile(configFile) : core.CodeAnalyzerConfig.withDefaults();
    return { config, configFile: configFile || null };
  } catch (error) {
    const where = configFile ? path.basename(configFile) : 'the default configuration';
    throw new RunnerError('config', `${where}: ${error.message}`);
  }
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const core = require('@salesforce/code-analyzer-core');
  const pluginModules = [
    require('@salesforce/code-analyzer-pmd-engine'),
    require('@salesforce/code-analyzer-regex-engine'),
  ];

  const { config, configFile } = loadConfig(core, request);
  const analyzer = new core.CodeAnalyzer(config);
  const errors = [];
  analyzer.onEvent(core.EventType.LogEvent, (event) => {
    if (event.logLevel === core.LogLevel.Error) {
      errors.push(event.message);
    }
  });
  for (const module of pluginModules) {
    await analyzer.addEnginePlugin(module.createEnginePlugin());
  }

  const available = analyzer.getEngineNames();
  const disabled = [];
  for (const engine of request.requiredEngines) {
    if (available.includes(engine)) {
      continue;
    }
    const overrides = config.getEngineOverridesFor(engine) || {};
    if (overrides.disable_engine === true) {
      disabled.push(engine);
      continue;
    }
    // The core logs why it could not create the engine (Java missing, a bad engine setting);
    // a gate must not pass because an engine silently did not run.
    const why = errors.find((message) => message.includes(`'${engine}'`)) || 'no reason was given';
    throw new RunnerError('engine', `engine '${engine}' is unavailable: ${why}`);
  }

  let workspace;
  try {
    workspace = await analyzer.createWorkspace(request.workspace, request.targets || undefined);
  } catch (error) {
    throw new RunnerError('workspace', error.message);
  }
  const selection = await analyzer.selectRules(request.ruleSelectors, { workspace });
  const results = await analyzer.run(selection, { workspace });
  fs.writeFileSync(request.outputFile, results.toFormattedOutput(core.OutputFormat.JSON));

  const engineConfig = (name) => (available.includes(name) ? analyzer.getEngineConfig(name) : {});
  finish(
    {
      ok: true,
      configFile,
      engines: available,
      disabledEngines: disabled,
      selectedRules: selection.getCount(),
      javaCommand: engineConfig('pmd').java_command || null,
      errors,
    },
    0,
  );
}

main().catch((error) => {
  const kind = error instanceof RunnerError ? error.kind : 'internal';
  finish({ ok: false, kind, message: error.message }, EXIT[kind]);
});

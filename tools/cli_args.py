"""Argument-parsing pieces of the `mae` command that import nothing heavy, so `mae --help` and
`mae bench --help` answer without loading torch; the work each subcommand does imports its own."""
import argparse


class DictAction(argparse.Action):
    """mmengine's `key=value` parser (lists, tuples, nested keys), imported only when the option is given."""

    def __call__(self, parser, namespace, values, option_string=None):
        from mmengine.config import DictAction as MMDictAction

        MMDictAction(self.option_strings, self.dest)(parser, namespace, values, option_string)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, unless it is None or a flag's False (the help says what happens then)."""

    def _get_help_string(self, action):
        text = action.help or ""
        d = action.default
        if d is None or d is False or d is argparse.SUPPRESS or d == {} or d == [] or "default" in text:
            return text
        if not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE):
            return text  # a required positional has no default
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with our help formatter; subcommands' parsers inherit the class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


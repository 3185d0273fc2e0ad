"""viewrank.exporters"""

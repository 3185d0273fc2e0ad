"""viewrank.plugins"""
